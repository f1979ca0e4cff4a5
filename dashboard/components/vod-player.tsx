'use client';

import type { ErrorData } from 'hls.js';
import { useEffect, useRef, useState } from 'react';
import { VOD_RANGES_MIN, type VodRangeMin, vodRangeUrl } from '@/lib/vod-url';

type Status =
  | { kind: 'loading' }
  | { kind: 'ready' }
  | { kind: 'error'; message: string; cause: 'network' | 'decode' };

const HLS_MIME = 'application/vnd.apple.mpegurl';

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

/**
 * Plays a time range of recording through hls.js (or native HLS where the browser has it).
 * `playlistUrl` is the camera's VOD playlist on the gateway, without a time range.
 */
export function VodPlayer({ playlistUrl }: { playlistUrl: string }) {
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
    const url = vodRangeUrl(playlistUrl, range, Date.now());
    setSrc(url);
    setStatus({ kind: 'loading' });

    let cancelled = false;
    let destroy = () => {};
    // hls.js explains a failure better than the media element, so its text wins when both report.
    let hlsReported = false;
    const fail = (message: string, cause: 'network' | 'decode' = 'decode') => {
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

    return () => {
      cancelled = true;
      video.removeEventListener('error', onVideoError);
      video.removeEventListener('loadeddata', onReady);
      destroy();
    };
  }, [playlistUrl, range, reload]);

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
          {status.cause === 'network'
            ? `Could not load the recording (${status.message}). Is the storage gateway reachable, and was anything recorded in this range?`
            : `This browser cannot decode the recording (${status.message}). Recordings are H.265; use a browser with HEVC decoding (Safari, or Chrome/Edge with hardware support).`}
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
