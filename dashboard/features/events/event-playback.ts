import type { EventView, PlaybackRequest } from '@cctv/protocol';
import { eventEndMs } from './event-format';

/**
 * Playback of an event's clip: the recording from a little before the event to a little after
 * it, granted by the master like any playback (access check + audit row) through lib/playback.ts.
 */

/** Recording shown before the event starts and after it ends. */
export const CLIP_PAD_MS = 5_000;
/** The master grants at most 24 h at once. */
const MAX_GRANT_MS = 24 * 3600_000;

export function clipRange(e: EventView): PlaybackRequest {
  const from = Date.parse(e.startedAt) - CLIP_PAD_MS;
  const to = Math.min(eventEndMs(e) + CLIP_PAD_MS, from + MAX_GRANT_MS);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** What a playlist says about one fragment: where it sits on the media timeline and on the wall clock. */
export interface ClipFragment {
  /** Media time of its first frame, seconds (hls.js updates it once the fragment is parsed). */
  start: number;
  duration: number;
  /** `EXT-X-PROGRAM-DATE-TIME`, ms since the epoch. */
  programDateTime: number | null;
}

/**
 * The wall-clock time (ms) shown at media time `t`: from the fragment that holds `t` (the
 * last one starting at or before it), since the gateway stamps every segment with its
 * recorded start. Null when no fragment carries a date.
 */
export function wallClockAt(fragments: readonly ClipFragment[], t: number): number | null {
  let best: ClipFragment | null = null;
  for (const f of fragments) {
    if (f.programDateTime === null) continue;
    if (f.start <= t + 1e-3) best = f;
    else if (!best) best = f;
    else break;
  }
  return best?.programDateTime == null ? null : best.programDateTime + (t - best.start) * 1000;
}

/** The media time (s) at wall-clock `ms`, for seeking to the event; null when not in the clip. */
export function mediaTimeAt(fragments: readonly ClipFragment[], ms: number): number | null {
  let best: ClipFragment | null = null;
  for (const f of fragments) {
    if (f.programDateTime === null) continue;
    if (f.programDateTime <= ms) best = f;
    else if (!best) best = f;
    else break;
  }
  return best?.programDateTime == null ? null : Math.max(0, best.start + (ms - best.programDateTime) / 1000);
}
