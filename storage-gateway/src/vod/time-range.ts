import { parseIsoTime } from '@cctv/protocol/patterns';

export const MAX_RANGE_MS = 24 * 60 * 60 * 1000;

export type TimeRange = { ok: true; from: Date; to: Date } | { ok: false; message: string };

/** Parses `from`/`to` query values into a half-open range of at most 24 h. */
export function parseTimeRange(from: unknown, to: unknown): TimeRange {
  if (typeof from !== 'string' || typeof to !== 'string')
    return { ok: false, message: 'query parameters from and to are required (ISO-8601 date-times)' };
  const start = parseIsoTime(from);
  if (!start)
    return { ok: false, message: `from ${JSON.stringify(from)} is not an ISO-8601 date-time with zone` };
  const end = parseIsoTime(to);
  if (!end) return { ok: false, message: `to ${JSON.stringify(to)} is not an ISO-8601 date-time with zone` };
  if (start.getTime() >= end.getTime()) return { ok: false, message: 'from must be before to' };
  if (end.getTime() - start.getTime() > MAX_RANGE_MS)
    return { ok: false, message: 'a range may span at most 24 h' };
  return { ok: true, from: start, to: end };
}
