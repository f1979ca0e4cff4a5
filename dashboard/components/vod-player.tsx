'use client';

import type { PlaybackGrant } from '@cctv/protocol';
import type { ErrorData } from 'hls.js';
import { useEffect, useRef, useState } from 'react';
import { errorOf, loginPath } from '@/lib/session';
import { playbackPath, VOD_RANGES_MIN, type VodRangeMin, vodRange } from '@/lib/vod-url';

/** `access`: the master refused this camera; `grant`: any other refusal of the playback request. */
type ErrorCause = 'network' | 'decode' | 'access' | 'grant';

type Status = { kind: 'loading' } | { kind: 'ready' } | { kind: 'error'; message: string; cause: ErrorCause };

const HLS_MIME = 'application/vnd.apple.mpegurl';
/** What the agents record: H.265 Main, tagged hvc1 in fMP4. */
const HEVC_MP4 = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

/**
 * The recording as is where the browser decodes H.265 (Safari, Edge, Chrome with hardware
 * support), else the gateway's H.264 rendition of the same range.
 */
function playableUrl(grant: PlaybackGrant): string {
  const mse = (globalThis as { MediaSource?: { isTypeSupported(type: string): boolean } }).MediaSource;
  const video = document.createElement('video');
  const hevc = mse ? mse.isTypeSupported(HEVC_MP4) : video.canPlayType(HEVC_MP4) !== '';
  return hevc ? grant.playlistUrl : grant.h264PlaylistUrl;
}

function describeHlsError(data: ErrorData): string {
  const parts = [`${data.type}: ${data.details}`];
  if (data.response?.code) parts.push(`HTTP ${data.response.code}`);
  if (data.error?.message && !parts[0]?.includes(data.error.message)) parts.push(data.error.message);
  if (data.reason) parts.push(data.reason);
  return parts.join(' — ');
}

function describeMediaError(video: HTMLVideoElement): string {
  const err = video.error;
  if (!err) return 'the browser could not play this stream';
  return `media error ${err.code}${err.message ? `: ${err.message}` : ''}`;
}

type Grant = { ok: true; grant: PlaybackGrant } | { ok: false; status: number; message: string };

/** Asks the master for the range; the grant is what authorises and audits this playback. */
async function requestGrant(cameraId: string, minutes: number, signal: AbortSignal): Promise<Grant> {
  const res = await fetch(playbackPath(cameraId), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(vodRange(minutes, Date.now())),
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

function errorText(status: Extract<Status, { kind: 'error' }>): string {
  switch (status.cause) {
    case 'access':
      return 'This camera is not in your access list, so its recordings cannot be played. An administrator can grant access.';
    case 'grant':
      return `Could not open the recording (${status.message}).`;
    case 'network':
      return `Could not load the recording (${status.message}). Is the storage gateway reachable, and was anything recorded in this range?`;
    case 'decode':
      return `This browser cannot decode the recording (${status.message}). Recordings are H.265; use a browser with HEVC decoding (Safari, or Chrome/Edge with hardware support).`;
  }
}

/**
 * Plays a time range of recording through hls.js (or native HLS where the browser has it).
 * The playlist URL comes from the master's playback grant for the chosen range, never built
 * here, so every playback passes the camera access check and lands in the audit log.
 */
export function VodPlayer({ cameraId }: { cameraId: string }) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [range, setRange] = useState<VodRangeMin>(2);
  const [reload, setReload] = useState(0);
  const [status, setStatus] = useState<Status>({ kind: 'loading' });
  const [src, setSrc] = useState<string | null>(null);

  // `reload` only exists to re-run this effect with a fresh "now".
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload is a trigger
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    setSrc(null);
    setStatus({ kind: 'loading' });

    let cancelled = false;
    const grantRequest = new AbortController();
    let destroy = () => {};
    // hls.js explains a failure better than the media element, so its text wins when both report.
    let hlsReported = false;
    const fail = (message: string, cause: ErrorCause = 'decode') => {
      if (!cancelled) setStatus({ kind: 'error', message, cause });
    };
    const onVideoError = () => {
      if (!hlsReported) fail(describeMediaError(video));
    };
    const onReady = () => {
      if (!cancelled) setStatus((s) => (s.kind === 'error' ? s : { kind: 'ready' }));
    };
    video.addEventListener('error', onVideoError);
    video.addEventListener('loadeddata', onReady);

    // hls.js (Media Source Extensions) first: it reports why a stream fails. Native HLS only
    // where MSE is missing (iPhone Safari); recent Chromium also claims native HLS but then
    // reports every failure, network or codec, as an opaque demuxer error.
    const play = (url: string) => {
      const playNative = () => {
        if (!video.canPlayType(HLS_MIME)) {
          fail('this browser has neither Media Source Extensions nor native HLS');
          return;
        }
        video.src = url;
        destroy = () => {
          video.removeAttribute('src');
          video.load();
        };
      };
      import('hls.js')
        .then(({ default: Hls }) => {
          if (cancelled) return;
          if (!Hls.isSupported()) {
            playNative();
            return;
          }
          const hls = new Hls({ lowLatencyMode: false });
          hls.on(Hls.Events.ERROR, (_event, data) => {
            if (!data.fatal) return;
            hlsReported = true;
            fail(describeHlsError(data), data.type === Hls.ErrorTypes.NETWORK_ERROR ? 'network' : 'decode');
            hls.destroy();
          });
          hls.loadSource(url);
          hls.attachMedia(video);
          destroy = () => hls.destroy();
        })
        .catch((err: unknown) => fail(`could not load the player: ${String(err)}`));
    };

    requestGrant(cameraId, range, grantRequest.signal)
      .then((answer) => {
        if (cancelled) return;
        if (answer.ok) {
          const url = playableUrl(answer.grant);
          setSrc(url);
          play(url);
        } else if (answer.status === 401) {
          const { pathname, search } = window.location;
          window.location.assign(loginPath(`${pathname}${search}`));
        } else {
          fail(answer.message, answer.status === 403 ? 'access' : 'grant');
        }
      })
      .catch((err: unknown) => {
        if (!cancelled) fail(`the dashboard server is unreachable: ${String(err)}`, 'grant');
      });

    return () => {
      cancelled = true;
      grantRequest.abort();
      video.removeEventListener('error', onVideoError);
      video.removeEventListener('loadeddata', onReady);
      destroy();
    };
  }, [cameraId, range, reload]);

  return (
    <div className="player">
      <div className="player-bar">
        <fieldset className="range-picker" aria-label="Recording range">
          {VOD_RANGES_MIN.map((m) => (
            <button
              key={m}
              type="button"
              className={m === range ? 'active' : ''}
              aria-pressed={m === range}
              onClick={() => setRange(m)}
            >
              last {m} min
            </button>
          ))}
          <button type="button" onClick={() => setReload((n) => n + 1)} title="Reload up to now">
            ↻
          </button>
        </fieldset>
        <span
          className={`player-status status-${status.kind}`}
          data-testid="vod-status"
          data-state={status.kind}
        >
          {status.kind === 'loading' ? 'loading…' : status.kind === 'ready' ? 'playing' : 'cannot play'}
        </span>
      </div>
      <video ref={videoRef} data-testid="vod-player" controls muted autoPlay playsInline className="video" />
      {status.kind === 'error' ? (
        <p className="notice" role="alert" data-testid="vod-error" data-cause={status.cause}>
          {errorText(status)}
        </p>
      ) : null}
      {src ? (
        <p className="sub mono src" title={src}>
          {src}
        </p>
      ) : null}
    </div>
  );
}
