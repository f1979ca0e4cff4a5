import type { EventSearchQuery, EventType, EventView } from '@cctv/protocol';
import { EVENT_PAGE_MAX, isValidId, isZoneName, POLYGONS_MAX } from '@cctv/protocol/patterns';

/**
 * The event search's filters as they live in the page URL (`/events?camera=…&type=…`), so a
 * search can be shared and the back button returns to the previous one. Times are ISO-8601
 * in the URL and local `datetime-local` values in the form.
 */
export interface EventFilters {
  camera: string | null;
  type: EventType | null;
  /** Events started at or after this time; null: the last 24 h, counted when the search runs. */
  from: string | null;
  /** Events started before this time; null: up to now, and new events keep arriving. */
  to: string | null;
  /** 0..1, as the master takes it. */
  minScore: number | null;
  /** Motion zones (names): events that touched any of them; empty: any event. */
  zones: string[];
  /** Page size for the master (1..500); not in the form, but kept when the form changes. */
  limit: number | null;
}

/** No filter at all (the page size is not a filter: callers keep theirs). */
export const NO_FILTERS: EventFilters = {
  camera: null,
  type: null,
  from: null,
  to: null,
  minScore: null,
  zones: [],
  limit: null,
};

export const DEFAULT_WINDOW_MS = 24 * 3600_000;
export const DEFAULT_PAGE_SIZE = 30;
type RawParams = Record<string, string | string[] | undefined>;

function first(raw: RawParams, key: string): string | null {
  const v = raw[key];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? null : s;
}

function isoOrNull(s: string | null): string | null {
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/**
 * Zone names as typed or in the URL (comma-separated): trimmed, unique, in order; null when one
 * is not a valid name or there are too many.
 */
export function parseZones(text: string): string[] | null {
  const names = [
    ...new Set(
      text
        .split(',')
        .map((z) => z.trim())
        .filter((z) => z !== ''),
    ),
  ];
  if (names.length > POLYGONS_MAX || !names.every(isZoneName)) return null;
  return names;
}

/** The filters in a page's search params; a value that makes no sense is dropped, with a note why. */
export function parseFilters(raw: RawParams): { filters: EventFilters; dropped: string[] } {
  const dropped: string[] = [];
  const camera = first(raw, 'camera');
  const type = first(raw, 'type');
  const from = first(raw, 'from');
  const to = first(raw, 'to');
  const minScore = first(raw, 'minScore');
  const limit = first(raw, 'limit');
  const zones = first(raw, 'zones');
  const zoneList = zones === null ? [] : parseZones(zones);

  const filters: EventFilters = {
    camera: camera && isValidId(camera) ? camera : null,
    type: type === 'motion' || type === 'face' ? type : null,
    from: isoOrNull(from),
    to: isoOrNull(to),
    minScore: minScore !== null && Number(minScore) >= 0 && Number(minScore) <= 1 ? Number(minScore) : null,
    limit:
      limit !== null &&
      Number.isInteger(Number(limit)) &&
      Number(limit) >= 1 &&
      Number(limit) <= EVENT_PAGE_MAX
        ? Number(limit)
        : null,
    zones: zoneList ?? [],
  };
  if (camera && !filters.camera) dropped.push('camera');
  if (type && type !== 'any' && !filters.type) dropped.push('type');
  if (from && !filters.from) dropped.push('from');
  if (to && !filters.to) dropped.push('to');
  if (minScore !== null && filters.minScore === null) dropped.push('minScore');
  if (limit !== null && filters.limit === null) dropped.push('limit');
  if (zoneList === null) dropped.push('zones');
  return { filters, dropped };
}

/** The page URL's query for these filters (`''` for none), in a stable order. */
export function filtersToSearch(f: EventFilters): string {
  const q = new URLSearchParams();
  if (f.camera) q.set('camera', f.camera);
  if (f.type) q.set('type', f.type);
  if (f.from) q.set('from', f.from);
  if (f.to) q.set('to', f.to);
  if (f.minScore !== null && f.minScore > 0) q.set('minScore', String(f.minScore));
  if (f.zones.length > 0) q.set('zones', f.zones.join(','));
  if (f.limit !== null) q.set('limit', String(f.limit));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Where the default window starts for a search run at `nowMs`. */
export function effectiveFrom(f: EventFilters, nowMs: number): string {
  return f.from ?? new Date(nowMs - DEFAULT_WINDOW_MS).toISOString();
}

/** The query of `GET /api/events` for one page of these filters. */
export function eventsQuery(f: EventFilters, from: string, cursor: string | null): EventSearchQuery {
  return {
    cameras: f.camera ?? undefined,
    types: f.type ?? undefined,
    from,
    to: f.to ?? undefined,
    minScore: f.minScore !== null && f.minScore > 0 ? f.minScore : undefined,
    zones: f.zones.length > 0 ? f.zones.join(',') : undefined,
    limit: f.limit ?? DEFAULT_PAGE_SIZE,
    cursor: cursor ?? undefined,
  };
}

/** Whether a pushed event belongs in the results of a search whose window starts at `from`. */
export function matchesFilters(e: EventView, f: EventFilters, from: string): boolean {
  if (f.camera && e.cameraId !== f.camera) return false;
  if (f.type && e.type !== f.type) return false;
  if (f.minScore !== null && e.score < f.minScore) return false;
  if (f.zones.length > 0 && !e.zones.some((z) => f.zones.includes(z))) return false;
  const started = Date.parse(e.startedAt);
  if (started < Date.parse(from)) return false;
  if (f.to && started >= Date.parse(f.to)) return false;
  return true;
}

/** Newest first by (startedAt, id), the master's order. */
export function compareEvents(a: EventView, b: EventView): number {
  const d = Date.parse(b.startedAt) - Date.parse(a.startedAt);
  return d !== 0 ? d : b.id.localeCompare(a.id);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO time as a `datetime-local` value in the browser's zone (`YYYY-MM-DDTHH:mm:ss`). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A `datetime-local` value (the browser's zone) as ISO, or null when empty or invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  // A date-time without an offset is local time (ECMAScript Date Time String Format).
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}
