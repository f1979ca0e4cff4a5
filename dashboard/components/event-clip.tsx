'use client';

import type { EventView } from '@cctv/protocol';
import { useEffect, useMemo, useRef, useState } from 'react';
import { eventEndMs, formatLocalTime, formatScore } from '@/lib/event-format';
import { displayedVideoRect, type Rect } from '@/lib/event-geometry';
import {
  type ClipFragment,
  clipRange,
  describeHlsError,
  describeMediaError,
  mediaTimeAt,
  playableUrl,
  requestGrant,
  wallClockAt,
} from '@/lib/event-playback';
import { loginPath } from '@/lib/session';

type Cause = 'network' | 'decode' | 'access' | 'grant';
type Status = { kind: 'loading' } | { kind: 'ready' } | { kind: 'error'; message: string; cause: Cause };

const HLS_MIME = 'application/vnd.apple.mpegurl';

function errorText(s: Extract<Status, { kind: 'error' }>): string {
  switch (s.cause) {
    case 'access':
      return 'This camera is not in your access list, so its recording cannot be played.';
    case 'grant':
      return `Could not open the recording (${s.message}).`;
    case 'network':
      return `Could not load the recording (${s.message}). Was anything recorded around this event, and is the storage gateway reachable?`;
    case 'decode':
      return `This browser cannot play the recording (${s.message}).`;
  }
}

/**
 * The recording around one event (5 s either side) with the event's boxes drawn over the
 * picture while the playback is within the event. Boxes are fractions of the frame, laid over
 * the picture as the video element shows it (`object-fit: contain`, so bars included). The
 * playback position maps to the wall clock through the playlist's per-segment dates.
 */
export function EventClip({ event }: { event: EventView }) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const fragments = useRef<readonly ClipFragment[]>([]);
  const [status, setStatus] = useState<Status>({ kind: 'loading' });
  const [wall, setWall] = useState<number | null>(null);
  const [rect, setRect] = useState<Rect | null>(null);
  const range = useMemo(() => clipRange(event), [event]);
  const startMs = Date.parse(event.startedAt);
  const endMs = eventEndMs(event);
  const clipFrom = Date.parse(range.from);
  const clipTo = Date.parse(range.to);

  // Playback: grant, then hls.js (native HLS only without Media Source Extensions).
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    let cancelled = false;
    let hlsReported = false;
    let destroy = () => {};
    const grantRequest = new AbortController();
    fragments.current = [];
    setStatus({ kind: 'loading' });
    const fail = (message: string, cause: Cause = 'decode') => {
      if (!cancelled) setStatus({ kind: 'error', message, cause });
    };
    const onVideoError = () => {
      if (!hlsReported) fail(describeMediaError(video));
    };
    const onReady = () => {
      if (!cancelled) setStatus((s) => (s.kind === 'error' ? s : { kind: 'ready' }));
    };
    const onNativeMetadata = () => {
      // Native HLS: the first segment's EXT-X-PROGRAM-DATE-TIME is the media timeline's origin.
      const start = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
      const t = start?.getTime();
      if (t !== undefined && !Number.isNaN(t))
        fragments.current = [{ start: 0, duration: Number.POSITIVE_INFINITY, programDateTime: t }];
    };
    video.addEventListener('error', onVideoError);
    video.addEventListener('loadeddata', onReady);

    const play = (url: string) => {
      import('hls.js')
        .then(({ default: Hls }) => {
          if (cancelled) return;
          if (!Hls.isSupported()) {
            if (!video.canPlayType(HLS_MIME)) {
              fail('this browser has neither Media Source Extensions nor native HLS');
              return;
            }
            video.addEventListener('loadedmetadata', onNativeMetadata);
            video.src = url;
            destroy = () => {
              video.removeEventListener('loadedmetadata', onNativeMetadata);
              video.removeAttribute('src');
              video.load();
            };
            return;
          }
          const hls = new Hls({ lowLatencyMode: false });
          // hls.js keeps these fragment objects and corrects their start once parsed.
          const takeFragments = (_e: unknown, data: { details: { fragments: readonly ClipFragment[] } }) => {
            fragments.current = data.details.fragments;
          };
          hls.on(Hls.Events.LEVEL_LOADED, takeFragments);
          hls.on(Hls.Events.LEVEL_UPDATED, takeFragments);
          hls.on(Hls.Events.ERROR, (_e, data) => {
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

    requestGrant(event.cameraId, range, grantRequest.signal)
      .then((answer) => {
        if (cancelled) return;
        if (answer.ok) play(playableUrl(answer.grant));
        else if (answer.status === 401) {
          const { pathname, search } = window.location;
          window.location.assign(loginPath(`${pathname}${search}`));
        } else fail(answer.message, answer.status === 403 ? 'access' : 'grant');
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
  }, [event.cameraId, range]);

  // The playback position on the wall clock.
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const update = () => setWall(wallClockAt(fragments.current, video.currentTime));
    const names = ['timeupdate', 'seeked', 'playing', 'loadeddata'] as const;
    for (const n of names) video.addEventListener(n, update);
    return () => {
      for (const n of names) video.removeEventListener(n, update);
    };
  }, []);

  // Where the picture is drawn: follows the element's size and the stream's frame size.
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    const measure = () => setRect(displayedVideoRect(video));
    const ro = new ResizeObserver(measure);
    ro.observe(video);
    video.addEventListener('loadedmetadata', measure);
    video.addEventListener('resize', measure);
    return () => {
      ro.disconnect();
      video.removeEventListener('loadedmetadata', measure);
      video.removeEventListener('resize', measure);
    };
  }, []);

  const active = wall !== null && wall >= startMs && wall <= endMs;
  const share = (ms: number) =>
    `${Math.min(100, Math.max(0, ((ms - clipFrom) / (clipTo - clipFrom)) * 100))}%`;

  const jumpToEvent = () => {
    const video = videoRef.current;
    if (!video) return;
    const t = mediaTimeAt(fragments.current, startMs - 1000);
    if (t !== null) video.currentTime = t;
    void video.play().catch(() => {});
  };

  return (
    <div className="player">
      <div className="player-bar">
        <div className="event-clip-controls">
          <button
            type="button"
            className="button-quiet"
            onClick={jumpToEvent}
            data-testid="event-clip-replay"
          >
            Play the event
          </button>
          <span className="sub mono" data-testid="event-clip-time" data-wall={wall ?? undefined}>
            {wall === null ? '—' : formatLocalTime(new Date(wall).toISOString())}
            {active ? ' · during the event' : ''}
          </span>
        </div>
        <span
          className={`player-status status-${status.kind}`}
          data-testid="event-clip-status"
          data-state={status.kind}
        >
          {status.kind === 'loading' ? 'loading…' : status.kind === 'ready' ? 'playing' : 'cannot play'}
        </span>
      </div>
      <div className="event-clip-stage">
        <video
          ref={videoRef}
          data-testid="event-clip-video"
          controls
          muted
          autoPlay
          playsInline
          className="video"
          aria-label={`Recording of the ${event.type} event`}
        />
        <div
          className="event-clip-overlay"
          data-testid="event-overlay"
          data-active={active}
          aria-hidden="true"
          style={
            rect ? { left: rect.x, top: rect.y, width: rect.width, height: rect.height } : { display: 'none' }
          }
        >
          {active
            ? event.boxes.map((b, i) => (
                <div
                  // Boxes have no identity of their own; their order is the message's.
                  // biome-ignore lint/suspicious/noArrayIndexKey: see above
                  key={i}
                  className={`event-box event-box-${event.type}`}
                  data-testid="event-box"
                  style={{
                    left: `${b.x * 100}%`,
                    top: `${b.y * 100}%`,
                    width: `${b.w * 100}%`,
                    height: `${b.h * 100}%`,
                  }}
                >
                  <span className="event-box-label">
                    {event.type} {formatScore(b.score ?? event.score)}
                  </span>
                </div>
              ))
            : null}
        </div>
      </div>
      <div className="event-clip-bar" aria-hidden="true" title="The clip, with the event marked">
        <span
          className="event-clip-span"
          style={{ left: share(startMs), width: `calc(${share(endMs)} - ${share(startMs)})` }}
        />
        {wall !== null ? <span className="event-clip-head" style={{ left: share(wall) }} /> : null}
      </div>
      {status.kind === 'error' ? (
        <p className="notice" role="alert" data-testid="event-clip-error" data-cause={status.cause}>
          {errorText(status)}
        </p>
      ) : null}
    </div>
  );
}
