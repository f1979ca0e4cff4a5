/**
 * The timeline's address: `?cameras=a,b&at=<iso>&span=<seconds>`. `at` is the moment of
 * interest (the one played; the bars are centred on it), absent when the bars simply end now;
 * `span` is the width of the bars in seconds.
 */
import { clampSpan, PRESETS } from './timeline-window';

export interface TimelineParams {
  cameras: string[];
  at: number | null;
  spanMs: number;
}

export const DEFAULT_SPAN_MS = PRESETS[0]?.spanMs ?? 600_000;

type Search = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function parseTimelineParams(search: Search): TimelineParams {
  const cameras = (first(search.cameras) ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c, i, all) => c !== '' && all.indexOf(c) === i);
  const atRaw = first(search.at);
  const atMs = atRaw ? Date.parse(atRaw) : Number.NaN;
  const spanS = Number(first(search.span));
  return {
    cameras,
    at: Number.isFinite(atMs) ? atMs : null,
    spanMs: Number.isFinite(spanS) && spanS > 0 ? clampSpan(spanS * 1000) : DEFAULT_SPAN_MS,
  };
}

export function timelineQuery(p: TimelineParams): string {
  const q = new URLSearchParams();
  if (p.cameras.length > 0) q.set('cameras', p.cameras.join(','));
  if (p.at !== null) q.set('at', new Date(p.at).toISOString());
  q.set('span', String(Math.round(p.spanMs / 1000)));
  // Commas are legal in a query and read better unescaped.
  return `?${q.toString().replace(/%2C/g, ',')}`;
}
