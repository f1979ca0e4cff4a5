/**
 * The alerts page's filters as they live in its URL (`/alerts?state=open&kind=detection`), the
 * master's query for them, and whether a live alert belongs in the filtered list.
 */
import type { AlertQuery, AlertView } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';
import { isValidId } from '@cctv/protocol/patterns';

type Kind = AlertView['kind'];
type Severity = AlertView['severity'];

const literals = <T>(schema: { anyOf: readonly { const: unknown }[] }): T[] =>
  schema.anyOf.map((s) => s.const as T);

/** The alert kinds and severities, read from the contract of `GET /api/alerts`. */
export const ALERT_KINDS: readonly Kind[] = literals<Kind>(masterRoutes.alerts.querystring.properties.kind);
export const ALERT_SEVERITIES: readonly Severity[] = literals<Severity>(
  masterRoutes.alerts.querystring.properties.severity,
);

/** Alerts per page of the alerts page (its first, and each "Older"), and in the bell. */
export const ALERTS_PAGE_SIZE = 50;

export interface AlertFilters {
  state: 'open' | 'resolved' | null;
  /** true: acknowledged only; false: not acknowledged only; null: both. */
  acknowledged: boolean | null;
  kind: Kind | null;
  severity: Severity | null;
  node: string | null;
  camera: string | null;
}

export const NO_ALERT_FILTERS: AlertFilters = {
  state: null,
  acknowledged: null,
  kind: null,
  severity: null,
  node: null,
  camera: null,
};

type RawParams = Record<string, string | string[] | undefined>;

function first(raw: RawParams, key: string): string | null {
  const v = raw[key];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? s : null;
}

const oneOf = <T extends string>(value: string | null, allowed: readonly T[]): T | null =>
  value !== null && (allowed as readonly string[]).includes(value) ? (value as T) : null;

/** The filters in the page's search params; a value the master would refuse is left out. */
export function parseAlertFilters(raw: RawParams): AlertFilters {
  const acknowledged = first(raw, 'acknowledged');
  const node = first(raw, 'node');
  const camera = first(raw, 'camera');
  return {
    state: oneOf(first(raw, 'state'), ['open', 'resolved'] as const),
    acknowledged: acknowledged === 'true' ? true : acknowledged === 'false' ? false : null,
    kind: oneOf(first(raw, 'kind'), ALERT_KINDS),
    severity: oneOf(first(raw, 'severity'), ALERT_SEVERITIES),
    node: node && isValidId(node) ? node : null,
    camera: camera && isValidId(camera) ? camera : null,
  };
}

/** The master's query for these filters (no field for an empty filter), without paging. */
export function alertQuery(f: AlertFilters): Omit<AlertQuery, 'limit' | 'cursor'> {
  const q: Omit<AlertQuery, 'limit' | 'cursor'> = {};
  if (f.state) q.state = f.state;
  if (f.acknowledged !== null) q.acknowledged = f.acknowledged;
  if (f.kind) q.kind = f.kind;
  if (f.severity) q.severity = f.severity;
  if (f.node) q.node = f.node;
  if (f.camera) q.camera = f.camera;
  return q;
}

/** The page URL's query for these filters (`''` for none), in a stable order. */
export function alertSearch(f: AlertFilters): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(alertQuery(f))) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Whether a live alert belongs in the list these filters show. */
export function matchesAlertFilters(a: AlertView, f: AlertFilters): boolean {
  return (
    (f.state === null || a.state === f.state) &&
    (f.acknowledged === null || (a.acknowledgedAt !== null) === f.acknowledged) &&
    (f.kind === null || a.kind === f.kind) &&
    (f.severity === null || a.severity === f.severity) &&
    (f.node === null || a.nodeId === f.node) &&
    (f.camera === null || a.cameraId === f.camera)
  );
}
