/**
 * The audit page's filters as they live in its URL (`/settings/audit?user=…&action=…`), and
 * the master's query for them: the same for a page of the log and for its CSV export, so the
 * download holds exactly the rows the page lists (and the older ones behind them).
 */
import type { AuditAction, AuditEntryView, AuditExportQuery } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';
import { isValidId } from '@cctv/protocol/patterns';

/** The actions the log records, read from the contract of `GET /api/audit`. */
export const AUDIT_ACTIONS: readonly AuditAction[] =
  masterRoutes.audit.querystring.properties.action.anyOf.map((a) => a.const);

/** Entries per page of the audit page (its first, and each "Older"). */
export const AUDIT_PAGE_SIZE = 50;

export interface AuditFilters {
  user: string | null;
  action: AuditAction | null;
  camera: string | null;
  node: string | null;
  /** ISO times: entries at or after `from`, before `to`. */
  from: string | null;
  to: string | null;
}

export const NO_FILTERS: AuditFilters = {
  user: null,
  action: null,
  camera: null,
  node: null,
  from: null,
  to: null,
};

type RawParams = Record<string, string | string[] | undefined>;

function first(raw: RawParams, key: string): string | null {
  const v = raw[key];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s : null;
}

function iso(s: string | null): string | null {
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** The filters in the page's search params; a value the master would refuse is left out. */
export function parseAuditFilters(raw: RawParams): AuditFilters {
  const user = first(raw, 'user');
  const action = first(raw, 'action');
  const camera = first(raw, 'camera');
  const node = first(raw, 'node');
  return {
    user: user && user.length <= 64 ? user : null,
    action: action && (AUDIT_ACTIONS as readonly string[]).includes(action) ? (action as AuditAction) : null,
    camera: camera && isValidId(camera) ? camera : null,
    node: node && isValidId(node) ? node : null,
    from: iso(first(raw, 'from')),
    to: iso(first(raw, 'to')),
  };
}

/** The master's query for these filters (no field for an empty filter). */
export function auditQuery(f: AuditFilters): AuditExportQuery {
  const q: AuditExportQuery = {};
  if (f.user) q.user = f.user;
  if (f.action) q.action = f.action;
  if (f.camera) q.camera = f.camera;
  if (f.node) q.node = f.node;
  if (f.from) q.from = f.from;
  if (f.to) q.to = f.to;
  return q;
}

/** The page URL's query for these filters (`''` for none), in a stable order. */
export function auditSearch(f: AuditFilters): string {
  const q = new URLSearchParams(auditQuery(f) as Record<string, string>);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The time range reads backwards (the master refuses it). */
export const badRange = (f: AuditFilters): boolean =>
  f.from !== null && f.to !== null && Date.parse(f.from) >= Date.parse(f.to);

/** An entry's detail in one line: `key: value` pairs, JSON for anything nested. */
export function detailText(detail: AuditEntryView['detail']): string {
  if (detail === null || detail === undefined) return '';
  if (typeof detail !== 'object' || Array.isArray(detail)) return JSON.stringify(detail);
  return Object.entries(detail as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}
