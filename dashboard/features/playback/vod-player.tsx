'use client';

import { useEffect, useRef, useState } from 'react';
import type { PlaybackErrorTexts, PlaybackStatus } from '@/features/playback/playback';
import { playRecording } from '@/features/playback/recording-playback';
import { VOD_RANGES_MIN, type VodRangeMin, vodRange } from '@/features/playback/vod-range';
import { PlaybackErrorNotice, PlaybackStatusBadge } from './playback-status';

const ERROR_TEXTS: PlaybackErrorTexts = {
  access:
    'This camera is not in your access list, so its recordings cannot be played. An administrator can grant access.',
  network: (message) =>
    `Could not load the recording (${message}). Is the storage gateway reachable, and was anything recorded in this range?`,
  decode: (message) =>
    `This browser cannot decode the recording (${message}). Recordings are H.265; use a browser with HEVC decoding (Safari, or Chrome/Edge with hardware support).`,
};

/**
 * Plays a time range of recording through hls.js (or native HLS where the browser has it).
 * The playlist URL comes from the master's playback grant for the chosen range, never built
 * here, so every playback passes the camera access check and lands in the audit log.
 */
export function VodPlayer({ cameraId }: { cameraId: string }) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [range, setRange] = useState<VodRangeMin>(2);
  const [reload, setReload] = useState(0);
  const [status, setStatus] = useState<PlaybackStatus>({ kind: 'loading' });
  const [src, setSrc] = useState<string | null>(null);

  // `reload` only exists to re-run this effect with a fresh "now".
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload is a trigger
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    setSrc(null);
    return playRecording(video, { cameraId, range: vodRange(range, Date.now()), setStatus, onUrl: setSrc });
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
        <PlaybackStatusBadge status={status} testId="vod-status" />
      </div>
      <video ref={videoRef} data-testid="vod-player" controls muted autoPlay playsInline className="video" />
      <PlaybackErrorNotice status={status} testId="vod-error" texts={ERROR_TEXTS} />
      {src ? (
        <p className="sub mono src" title={src}>
          {src}
        </p>
      ) : null}
    </div>
  );
}
