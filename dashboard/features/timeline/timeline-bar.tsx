'use client';

import type { RecordingSpan } from '@cctv/protocol';
import { type KeyboardEvent, type PointerEvent, useRef } from 'react';
import type { Marker } from '@/features/timeline/timeline-data';
import { fractionOf } from '@/features/timeline/timeline-window';

/** A pointer that moves further than this between press and release is a drag (pan), not a click. */
const DRAG_PX = 4;

const pct = (f: number) => `${(Math.min(1, Math.max(0, f)) * 100).toFixed(3)}%`;
const timeText = (t: number) => new Date(t).toLocaleString([], { hour12: false });

interface Props {
  cameraId: string;
  name: string;
  from: number;
  to: number;
  spans: RecordingSpan[];
  markers: Marker[];
  playhead: number | null;
  error: string | null;
  onPlay(at: number): void;
  /** Pans by a fraction of the span (drag, arrow keys). */
  onPan(fraction: number): void;
  /** Zooms by a factor around a point (0..1 across the bar). */
  onZoom(factor: number, anchor: number): void;
}

/**
 * One camera's stretch of time: recorded spans, event markers (or buckets) and the playhead.
 * A click plays from that moment, a drag pans; the keyboard pans (arrows), zooms (+/-) and
 * plays from the middle (Enter).
 */
export function TimelineBar(props: Props) {
  const { cameraId, name, from, to, spans, markers, playhead, error, onPlay, onPan, onZoom } = props;
  const trackRef = useRef<HTMLDivElement>(null);
  const drag = useRef<{ x: number; lastX: number; moved: boolean } | null>(null);

  const fractionAt = (clientX: number) => {
    const rect = trackRef.current?.getBoundingClientRect();
    return rect && rect.width > 0 ? (clientX - rect.left) / rect.width : 0;
  };

  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (e.button !== 0 || (e.target as HTMLElement).closest('button')) return;
    drag.current = { x: e.clientX, lastX: e.clientX, moved: false };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    const width = trackRef.current?.getBoundingClientRect().width ?? 0;
    if (!d || width === 0) return;
    if (!d.moved && Math.abs(e.clientX - d.x) < DRAG_PX) return;
    d.moved = true;
    onPan(-(e.clientX - d.lastX) / width);
    d.lastX = e.clientX;
  };
  const onPointerUp = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    drag.current = null;
    if (!d || d.moved) return;
    onPlay(Math.round(from + fractionAt(e.clientX) * (to - from)));
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.target !== e.currentTarget) return;
    switch (e.key) {
      case 'ArrowLeft':
        onPan(-0.1);
        break;
      case 'ArrowRight':
        onPan(0.1);
        break;
      case '+':
      case '=':
        onZoom(0.5, 0.5);
        break;
      case '-':
        onZoom(2, 0.5);
        break;
      case 'Enter':
        onPlay(Math.round((from + to) / 2));
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const head = playhead === null ? null : fractionOf(playhead, from, to);
  return (
    <div className="timeline-row" data-testid="timeline-row" data-camera-id={cameraId}>
      <div className="timeline-label mono" title={cameraId}>
        {name}
      </div>
      <div
        ref={trackRef}
        className="timeline-track"
        data-testid="timeline-bar"
        data-from={from}
        data-to={to}
        role="slider"
        tabIndex={0}
        aria-label={`Recordings of ${name}: click to play from a moment, drag or arrow keys to pan, + and - to zoom, Enter plays from the middle`}
        aria-valuemin={from}
        aria-valuemax={to}
        aria-valuenow={playhead ?? from}
        aria-valuetext={playhead === null ? 'nothing playing' : `playing ${timeText(playhead)}`}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerCancel={() => {
          drag.current = null;
        }}
        onKeyDown={onKeyDown}
      >
        {spans.map((s) => {
          const a = fractionOf(Date.parse(s.start), from, to);
          const b = fractionOf(Date.parse(s.end), from, to);
          if (b <= 0 || a >= 1) return null;
          return (
            <div
              key={s.start}
              className="timeline-span"
              data-testid="timeline-span"
              data-start={s.start}
              data-end={s.end}
              style={{ left: pct(a), width: `max(2px, calc(${pct(b)} - ${pct(a)}))` }}
              title={`recorded ${timeText(Date.parse(s.start))} – ${timeText(Date.parse(s.end))}`}
            />
          );
        })}
        {markers.map((m) => {
          const a = fractionOf(m.start, from, to);
          if (a < 0 || a > 1) return null;
          const label =
            m.kind === 'bucket'
              ? `${m.count} events from ${timeText(m.start)}`
              : `${m.kind} event at ${timeText(m.start)}, score ${m.score.toFixed(2)}`;
          return (
            <button
              key={m.key}
              type="button"
              className={`timeline-marker timeline-marker-${m.kind}`}
              data-testid="timeline-marker"
              data-kind={m.kind}
              data-start={new Date(m.start).toISOString()}
              style={{ left: pct(a) }}
              aria-label={`Play ${label}`}
              title={label}
              onClick={() => onPlay(m.start)}
            >
              {m.kind === 'bucket' && m.count > 1 ? (
                <span className="timeline-marker-count">{m.count}</span>
              ) : null}
            </button>
          );
        })}
        {head !== null && head >= 0 && head <= 1 ? (
          <div className="timeline-playhead" data-testid="timeline-playhead" style={{ left: pct(head) }} />
        ) : null}
      </div>
      {error ? (
        <p className="timeline-row-error sub" role="alert" data-testid="timeline-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}
