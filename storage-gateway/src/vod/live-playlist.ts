import { type PlaylistSegment, writeMediaPlaylist } from './playlist-writer.ts';

/**
 * Live playlists: the camera's newest segments of its newest recording run, numbered so that
 * a segment keeps its media sequence number across reloads and numbers only grow.
 *
 * Agents name segments `<runId>-<counter>.m4s`, `runId` being the UTC start of the ffmpeg run
 * with milliseconds (`20261123T101500123Z`) and `counter` +1 per segment of that run. A
 * segment's number is `runStartMs × 100 + counter` (= run start in seconds × 100000 +
 * counter, at millisecond resolution): stable, consecutive within a run, and larger in a later
 * run as long as a run's segments last over 10 µs each. Below 2^53 until the year 4700.
 * `EXT-X-DISCONTINUITY-SEQUENCE` is the run start in ms, so it grows with each run too.
 */
export interface LiveSegment extends PlaylistSegment {
  /** This segment's media sequence number. */
  sequence: number;
}

const agentName = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-(\d+)\.m4s$/;

/** Run start (ms since the epoch) and counter of an agent segment name, or null. */
export function parseAgentName(name: string): { runStartMs: number; counter: number } | null {
  const m = agentName.exec(name);
  if (!m) return null;
  const [y, mo, d, h, mi, s, ms, counter] = m.slice(1).map(Number) as number[];
  const runStartMs = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0, ms ?? 0);
  if (!Number.isSafeInteger(runStartMs) || !Number.isSafeInteger(counter)) return null;
  return { runStartMs, counter: counter ?? 0 };
}

export const sequenceOf = (runStartMs: number, counter: number) => runStartMs * 100 + counter;

/**
 * From the newest playable segments (newest first), the ones a live playlist lists, oldest
 * first: the newest segment and those before it of the same run (same init) with no hole in
 * between. A hole (a missing or not yet uploaded segment) ends the window, since the numbers
 * of the segments listed must be consecutive. With agent names "no hole" is counter − 1 in
 * the same run; otherwise a segment must end within `toleranceMs` of the next one's start.
 */
export function liveWindow<T extends PlaylistSegment>(newestFirst: readonly T[], toleranceMs = 1000): T[] {
  const [newest] = newestFirst;
  if (!newest) return [];
  const out: T[] = [newest];
  for (const seg of newestFirst.slice(1)) {
    const next = out[0] as T;
    if (seg.initName !== next.initName) break;
    const a = parseAgentName(seg.name);
    const b = parseAgentName(next.name);
    const adjacent =
      a && b
        ? a.runStartMs === b.runStartMs && a.counter === b.counter - 1
        : !a &&
          !b &&
          Math.abs(seg.startAt.getTime() + seg.durationMs - next.startAt.getTime()) <= toleranceMs;
    if (!adjacent) break;
    out.unshift(seg);
  }
  return out;
}

export interface LivePlaylistOptions {
  uri: (name: string) => string;
  /** `false` for MPEG-TS segments: no `EXT-X-MAP`, version 3. */
  map?: boolean;
  /** Discontinuity sequence: one number per recording run, growing. */
  discontinuitySequence: number;
}

/** An HLS live media playlist (no `EXT-X-ENDLIST`, no `EXT-X-PLAYLIST-TYPE`) of one run. */
export function buildLivePlaylist(segments: readonly LiveSegment[], opts: LivePlaylistOptions): string {
  // One run, no holes (liveWindow): one EXT-X-MAP and no discontinuity inside the window.
  return writeMediaPlaylist(segments, {
    uri: opts.uri,
    map: opts.map ?? true,
    mediaSequence: segments[0]?.sequence ?? 0,
    discontinuitySequence: opts.discontinuitySequence,
  });
}
