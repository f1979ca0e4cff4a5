import type { EventView, PlaybackGrant, PlaybackRequest } from '@cctv/protocol';
import type { ErrorData } from 'hls.js';
import { eventEndMs } from './event-format';
import { errorOf } from './session';
import { playbackPath } from './vod-url';

/**
 * Playback of an event's clip: the recording from a little before the event to a little after
 * it, granted by the master like any playback (access check + audit row). The grant and
 * codec choice follow components/vod-player.tsx.
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

const HEVC_MP4 = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

/** The recording as is where the browser decodes H.265, else the gateway's H.264 rendition. */
export function playableUrl(grant: PlaybackGrant): string {
  const mse = (globalThis as { MediaSource?: { isTypeSupported(type: string): boolean } }).MediaSource;
  const video = document.createElement('video');
  const hevc = mse ? mse.isTypeSupported(HEVC_MP4) : video.canPlayType(HEVC_MP4) !== '';
  return hevc ? grant.playlistUrl : grant.h264PlaylistUrl;
}

export type GrantAnswer = { ok: true; grant: PlaybackGrant } | { ok: false; status: number; message: string };

export async function requestGrant(
  cameraId: string,
  range: PlaybackRequest,
  signal: AbortSignal,
): Promise<GrantAnswer> {
  const res = await fetch(playbackPath(cameraId), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(range),
    cache: 'no-store',
    signal,
  });
  if (res.ok) return { ok: true, grant: (await res.json()) as PlaybackGrant };
  const err = await errorOf(res);
  const message =
    err?.code === 'MASTER_UNREACHABLE'
      ? 'the master is unreachable'
      : `HTTP ${res.status}${err ? `: ${err.message}` : ''}`;
  return { ok: false, status: res.status, message };
}

export function describeHlsError(data: ErrorData): string {
  const parts = [`${data.type}: ${data.details}`];
  if (data.response?.code) parts.push(`HTTP ${data.response.code}`);
  if (data.error?.message && !parts[0]?.includes(data.error.message)) parts.push(data.error.message);
  if (data.reason) parts.push(data.reason);
  return parts.join(' — ');
}

export function describeMediaError(video: HTMLVideoElement): string {
  const err = video.error;
  if (!err) return 'the browser could not play this stream';
  return `media error ${err.code}${err.message ? `: ${err.message}` : ''}`;
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
