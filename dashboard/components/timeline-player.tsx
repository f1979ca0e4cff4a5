'use client';

import { useEffect, useRef, useState } from 'react';
import { loginPath } from '@/lib/session';
import { playableUrl, requestGrant, TimelineHls } from '@/lib/timeline-hls';

type Status =
  | { kind: 'loading' }
  | { kind: 'ready' }
  | { kind: 'error'; cause: 'access' | 'grant' | 'network' | 'decode'; message: string };

function errorText(s: Extract<Status, { kind: 'error' }>): string {
  switch (s.cause) {
    case 'access':
      return 'This camera is not in your access list, so its recordings cannot be played.';
    case 'grant':
      return `Could not open the recording (${s.message}).`;
    case 'network':
      return `Nothing to play here (${s.message}). Was anything recorded at this moment?`;
    case 'decode':
      return `This browser cannot play the recording (${s.message}).`;
  }
}

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
  const [status, setStatus] = useState<Status>({ kind: 'loading' });
  const controllerRef = useRef(onController);
  controllerRef.current = onController;

  // biome-ignore lint/correctness/useExhaustiveDependencies: playKey is a restart trigger
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    setStatus({ kind: 'loading' });
    let cancelled = false;
    const abort = new AbortController();
    const fail = (cause: Extract<Status, { kind: 'error' }>['cause'], message: string) => {
      if (!cancelled) setStatus({ kind: 'error', cause, message });
    };
    const player = new TimelineHls(video, { onError: (message, cause) => fail(cause, message) });
    const onReady = () => {
      if (!cancelled) setStatus((s) => (s.kind === 'error' ? s : { kind: 'ready' }));
    };
    video.addEventListener('loadeddata', onReady);
    // This player's own wall clock, for a look at the sync (and the tests), without re-rendering.
    const clock = setInterval(() => {
      const wall = player.wallClock();
      figureRef.current?.setAttribute('data-wall', wall === null ? '' : String(Math.round(wall)));
    }, 250);
    requestGrant(cameraId, at, abort.signal)
      .then((answer) => {
        if (cancelled) return;
        if (answer.ok) {
          controllerRef.current(cameraId, player);
          // Chromium without H.265 (the tests' browser) plays the gateway's H.264 rendition.
          return player.start(playableUrl(answer.grant), at);
        }
        if (answer.status === 401) {
          window.location.assign(loginPath(`${window.location.pathname}${window.location.search}`));
          return;
        }
        fail(answer.status === 403 ? 'access' : 'grant', answer.message);
      })
      .catch((err: unknown) => fail('grant', `the dashboard server is unreachable: ${String(err)}`));
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
        <span
          className={`player-status status-${status.kind}`}
          data-testid="timeline-player-status"
          data-state={status.kind}
        >
          {status.kind === 'loading' ? 'loading…' : status.kind === 'ready' ? 'playing' : 'cannot play'}
        </span>
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
      {status.kind === 'error' ? (
        <p className="notice" role="alert" data-testid="timeline-player-error" data-cause={status.cause}>
          {errorText(status)}
        </p>
      ) : null}
    </figure>
  );
}
