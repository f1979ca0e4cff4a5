'use client';

import { useEffect, useRef, useState } from 'react';
import {
  openRecording,
  type PlaybackCause,
  type PlaybackErrorTexts,
  type PlaybackStatus,
} from '@/features/playback/playback';
import { grantRange, TimelineHls } from '@/features/timeline/timeline-hls';
import { PlaybackErrorNotice, PlaybackStatusBadge } from '../playback/playback-status';

const ERROR_TEXTS: PlaybackErrorTexts = {
  access: 'This camera is not in your access list, so its recordings cannot be played.',
  network: (message) => `Nothing to play here (${message}). Was anything recorded at this moment?`,
  decode: (message) => `This browser cannot play the recording (${message}).`,
};

interface Props {
  cameraId: string;
  name: string;
  /** Wall-clock ms to start from; a new `playKey` restarts even at the same moment. */
  at: number;
  playKey: number;
  /** Hands the running player to the timeline (playhead, sync), null when it goes. */
  onController(cameraId: string, controller: TimelineHls | null): void;
}

/** One camera's recording from a moment: a fresh playback grant, then hls.js from that moment. */
export function TimelinePlayer({ cameraId, name, at, playKey, onController }: Props) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const figureRef = useRef<HTMLElement>(null);
  const [status, setStatus] = useState<PlaybackStatus>({ kind: 'loading' });
  const controllerRef = useRef(onController);
  controllerRef.current = onController;

  // biome-ignore lint/correctness/useExhaustiveDependencies: playKey is a restart trigger
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    setStatus({ kind: 'loading' });
    let cancelled = false;
    const abort = new AbortController();
    const fail = (message: string, cause: PlaybackCause) => {
      if (!cancelled) setStatus({ kind: 'error', message, cause });
    };
    const player = new TimelineHls(video, { onError: fail });
    const onReady = () => {
      if (!cancelled) setStatus((s) => (s.kind === 'error' ? s : { kind: 'ready' }));
    };
    video.addEventListener('loadeddata', onReady);
    // This player's own wall clock, for a look at the sync (and the tests), without re-rendering.
    const clock = setInterval(() => {
      const wall = player.wallClock();
      figureRef.current?.setAttribute('data-wall', wall === null ? '' : String(Math.round(wall)));
    }, 250);
    openRecording(cameraId, grantRange(at, Date.now()), abort.signal, {
      cancelled: () => cancelled,
      play: (url, keeper) => {
        controllerRef.current(cameraId, player);
        // Chromium without H.265 (the tests' browser) plays the gateway's H.264 rendition.
        return player.start(url, at, keeper);
      },
      fail,
    });
    return () => {
      cancelled = true;
      clearInterval(clock);
      abort.abort();
      video.removeEventListener('loadeddata', onReady);
      controllerRef.current(cameraId, null);
      player.destroy();
    };
  }, [cameraId, at, playKey]);

  return (
    <figure
      ref={figureRef}
      className="timeline-player"
      data-testid="timeline-player"
      data-camera-id={cameraId}
      data-at={at}
      data-play-key={playKey}
    >
      <figcaption className="timeline-player-head">
        <span className="mono">{name}</span>
        <PlaybackStatusBadge status={status} testId="timeline-player-status" />
      </figcaption>
      <video
        ref={videoRef}
        data-testid="timeline-video"
        aria-label={`Recording of ${name}`}
        controls
        muted
        playsInline
        className="video"
      />
      <PlaybackErrorNotice status={status} testId="timeline-player-error" texts={ERROR_TEXTS} />
    </figure>
  );
}
