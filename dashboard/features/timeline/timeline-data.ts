/** The browser's reads for the timeline: coverage and markers per camera, and event stepping. */
import type { EventPage, EventSearchQuery, TimelineView } from '@cctv/protocol';
import { type MasterResponse, masterFetch } from '../../lib/master-fetch';
import { type Refusal, refusalOf } from '../../lib/session';

export type Loaded<T> = { ok: true; value: T } | Refusal;

async function loaded<T>(res: MasterResponse<T>): Promise<Loaded<T>> {
  if (res.ok) return { ok: true, value: await res.json() };
  return refusalOf(res);
}

const iso = (ms: number) => new Date(ms).toISOString();
type EventQuery = Partial<EventSearchQuery>;

/** About one bucket per 6 px of a 1600 px bar: individual markers until they would overlap. */
export const TIMELINE_BUCKETS = 250;

export function fetchTimeline(
  cameraId: string,
  from: number,
  to: number,
  signal?: AbortSignal,
): Promise<Loaded<TimelineView>> {
  const query = { from: iso(from), to: iso(to), buckets: TIMELINE_BUCKETS };
  return masterFetch('timeline', { params: { id: cameraId }, query, ...(signal ? { signal } : {}) }).then(
    loaded,
  );
}

/** A marker on a bar: one event, or a bucket of them when the range holds too many. */
export interface Marker {
  key: string;
  cameraId: string;
  start: number;
  end: number;
  kind: 'motion' | 'face' | 'bucket';
  count: number;
  score: number;
}

export function markersOf(view: TimelineView): Marker[] {
  if (view.events)
    return view.events.map((e) => ({
      key: e.id,
      cameraId: view.cameraId,
      start: Date.parse(e.startedAt),
      end: Date.parse(e.endedAt ?? e.lastAt),
      kind: e.type,
      count: 1,
      score: e.score,
    }));
  return (view.buckets ?? []).map((b) => ({
    key: `${view.cameraId}-${b.start}`,
    cameraId: view.cameraId,
    start: Date.parse(b.start),
    end: Date.parse(b.end),
    kind: 'bucket',
    count: b.motion + b.face,
    score: b.maxScore,
  }));
}

/** Stepping stops this close after an event's start go to the one before it, as media players do. */
const PREVIOUS_SLACK_MS = 1_000;
/** Pages of the event search walked to find the next event (500 each, newest first). */
const NEXT_PAGES = 10;

/**
 * The start of the newest event of these cameras before `ref` (`previous`) or the oldest after
 * it (`next`, up to `limit`), from the master's event search, so stepping works beyond the
 * visible bars and when they show buckets.
 */
export async function stepEvent(
  cameras: string[],
  ref: number,
  direction: 'previous' | 'next',
  limit: number,
): Promise<Loaded<number | null>> {
  const base = { cameras: cameras.join(',') };
  if (direction === 'previous') {
    const query = { ...base, to: iso(ref - PREVIOUS_SLACK_MS), limit: 1 };
    const page = await masterFetch('events', { query }).then(loaded);
    if (!page.ok) return page;
    const e = page.value.events[0];
    return { ok: true, value: e ? Date.parse(e.startedAt) : null };
  }
  if (limit <= ref + 1) return { ok: true, value: null };
  let cursor: string | null = null;
  let oldest: number | null = null;
  for (let i = 0; i < NEXT_PAGES; i += 1) {
    const query: EventQuery = { ...base, from: iso(ref + 1), to: iso(limit), limit: 500 };
    if (cursor) query.cursor = cursor;
    const page: Loaded<EventPage> = await masterFetch('events', { query }).then(loaded);
    if (!page.ok) return page;
    const last = page.value.events.at(-1);
    if (last) oldest = Date.parse(last.startedAt);
    cursor = page.value.nextCursor;
    if (!cursor) break;
  }
  return { ok: true, value: oldest };
}
