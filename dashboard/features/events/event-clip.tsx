'use client';

import type { EventView } from '@cctv/protocol';
import { useEffect, useMemo, useRef, useState } from 'react';
import { eventEndMs, formatLocalTime, formatScore } from '@/features/events/event-format';
import { displayedVideoRect, type Rect } from '@/features/events/event-geometry';
import { type ClipFragment, clipRange, mediaTimeAt, wallClockAt } from '@/features/events/event-playback';
import type { PlaybackErrorTexts, PlaybackStatus } from '@/features/playback/playback';
import { playRecording } from '@/features/playback/recording-playback';
import { PlaybackErrorNotice, PlaybackStatusBadge } from '../playback/playback-status';

const ERROR_TEXTS: PlaybackErrorTexts = {
  access: 'This camera is not in your access list, so its recording cannot be played.',
  network: (message) =>
    `Could not load the recording (${message}). Was anything recorded around this event, and is the storage gateway reachable?`,
  decode: (message) => `This browser cannot play the recording (${message}).`,
};

/**
 * The recording around one event (5 s either side) with the event's boxes drawn over the
 * picture while the playback is within the event. Boxes are fractions of the frame, laid over
 * the picture as the video element shows it (`object-fit: contain`, so bars included). The
 * playback position maps to the wall clock through the playlist's per-segment dates.
 */
export function EventClip({ event }: { event: EventView }) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const fragments = useRef<readonly ClipFragment[]>([]);
  const [status, setStatus] = useState<PlaybackStatus>({ kind: 'loading' });
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
    fragments.current = [];
    const onNativeMetadata = () => {
      // Native HLS: the first segment's EXT-X-PROGRAM-DATE-TIME is the media timeline's origin.
      const start = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
      const t = start?.getTime();
      if (t !== undefined && !Number.isNaN(t))
        fragments.current = [{ start: 0, duration: Number.POSITIVE_INFINITY, programDateTime: t }];
    };
    return playRecording(video, {
      cameraId: event.cameraId,
      range,
      setStatus,
      onFragments: (frags) => {
        fragments.current = frags;
      },
      onNativeMetadata,
    });
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
        <PlaybackStatusBadge status={status} testId="event-clip-status" />
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
      <PlaybackErrorNotice status={status} testId="event-clip-error" texts={ERROR_TEXTS} />
    </div>
  );
}
