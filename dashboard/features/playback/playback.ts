/**
 * What every recording player shares: the master's playback grant (`POST
 * /api/cameras/:id/playback`, which checks camera access and writes the audit row), the choice
 * between the recording as is and the gateway's H.264 rendition, how failures are described,
 * and the way back to sign in. The players keep their own ranges, texts and timelines.
 */
import type { PlaybackGrant, PlaybackRequest } from '@cctv/protocol';
import type { ErrorData } from 'hls.js';
import { masterFetch } from '../../lib/master-fetch';
import { loginPath, type Refusal, refusalOf } from '../../lib/session';
import { GrantKeeper } from './grant-keeper';

/** `access`: the master refused this camera; `grant`: any other refusal of the playback request. */
export type PlaybackCause = 'network' | 'decode' | 'access' | 'grant';

export type PlaybackStatus =
  | { kind: 'loading' }
  | { kind: 'ready' }
  | { kind: 'error'; message: string; cause: PlaybackCause };

export type PlaybackError = Extract<PlaybackStatus, { kind: 'error' }>;

export const HLS_MIME = 'application/vnd.apple.mpegurl';
/** What the agents record: H.265 Main, tagged hvc1 in fMP4. */
const HEVC_MP4 = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

/**
 * The recording as is where the browser decodes H.265 (Safari, Edge, Chrome with hardware
 * support), else the gateway's H.264 rendition of the same range.
 */
export function playableUrl(grant: PlaybackGrant): string {
  const mse = (globalThis as { MediaSource?: { isTypeSupported(type: string): boolean } }).MediaSource;
  const hevc = mse
    ? mse.isTypeSupported(HEVC_MP4)
    : document.createElement('video').canPlayType(HEVC_MP4) !== '';
  return hevc ? grant.playlistUrl : grant.h264PlaylistUrl;
}

export type GrantAnswer = { ok: true; grant: PlaybackGrant } | Refusal;

/** Asks the master for the range; the grant is what authorises and audits this playback. */
export async function requestGrant(
  cameraId: string,
  range: PlaybackRequest,
  signal: AbortSignal,
): Promise<GrantAnswer> {
  const res = await masterFetch('playback', { params: { id: cameraId }, body: range, signal });
  if (res.ok) return { ok: true, grant: await res.json() };
  return refusalOf(res);
}

/** To the sign-in page, and back to this page afterwards. */
export function signInAgain(): void {
  const { pathname, search } = window.location;
  window.location.assign(loginPath(`${pathname}${search}`));
}

export interface GrantHandlers {
  /** True once the player went away: nothing is reported then. */
  cancelled(): boolean;
  /**
   * Plays the granted playlist (the one this browser can decode); `keeper` keeps its grant
   * fresh for as long as it plays (hls.js `xhrSetup`).
   */
  play(url: string, keeper: GrantKeeper): void | Promise<void>;
  fail(message: string, cause: PlaybackCause): void;
}

/**
 * The grant for `range`, then `play` with its playable URL. An ended session goes to sign in;
 * a refusal is `access` (403) or `grant`, as is a dashboard server that does not answer.
 */
export function openRecording(
  cameraId: string,
  range: PlaybackRequest,
  signal: AbortSignal,
  handlers: GrantHandlers,
): void {
  requestGrant(cameraId, range, signal)
    .then((answer) => {
      if (handlers.cancelled()) return;
      if (answer.ok) {
        const url = playableUrl(answer.grant);
        const keeper = new GrantKeeper(url, answer.grant.expiresAt, async () => {
          const next = await requestGrant(cameraId, { ...range, renewal: true }, signal);
          if (!next.ok) throw new Error(next.message);
          return { url: playableUrl(next.grant), expiresAt: next.grant.expiresAt };
        });
        return handlers.play(url, keeper);
      }
      if (answer.status === 401) signInAgain();
      else handlers.fail(answer.message, answer.status === 403 ? 'access' : 'grant');
    })
    .catch((err: unknown) => {
      if (!handlers.cancelled())
        handlers.fail(`the dashboard server is unreachable: ${String(err)}`, 'grant');
    });
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

/** A player's own words for its failures; a refused grant reads the same everywhere. */
export interface PlaybackErrorTexts {
  access: string;
  network(message: string): string;
  decode(message: string): string;
}

export function playbackErrorText(error: PlaybackError, texts: PlaybackErrorTexts): string {
  switch (error.cause) {
    case 'access':
      return texts.access;
    case 'grant':
      return `Could not open the recording (${error.message}).`;
    case 'network':
      return texts.network(error.message);
    case 'decode':
      return texts.decode(error.message);
  }
}
