'use client';

import Link from 'next/link';
import { MAX_SPAN_MS, MIN_SPAN_MS, PRESETS, ZOOM_STEP } from '@/features/timeline/timeline-window';

interface Props {
  spanMs: number;
  following: boolean;
  playhead: number | null;
  exportHref: string | null;
  canStep: boolean;
  onPreset(spanMs: number): void;
  onZoom(factor: number): void;
  onPan(fraction: number): void;
  onNow(): void;
  onStep(direction: 'previous' | 'next'): void;
}

function spanText(ms: number): string {
  if (ms < 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${Math.round((ms / 3600_000) * 10) / 10} h`;
  return `${Math.round((ms / 86_400_000) * 10) / 10} d`;
}

/** Zoom, pan, presets, event stepping, the playhead's time and the export link. */
export function TimelineToolbar(props: Props) {
  const { spanMs, following, playhead, exportHref, canStep, onPreset, onZoom, onPan, onNow, onStep } = props;
  return (
    <div className="timeline-toolbar">
      <fieldset className="range-picker" aria-label="Span shown">
        {PRESETS.map((p) => (
          <button
            key={p.spanMs}
            type="button"
            className={p.spanMs === spanMs ? 'active' : ''}
            aria-pressed={p.spanMs === spanMs}
            onClick={() => onPreset(p.spanMs)}
          >
            {p.label}
          </button>
        ))}
      </fieldset>
      <fieldset className="range-picker" aria-label="Zoom and pan">
        <button type="button" onClick={() => onPan(-0.5)} aria-label="Earlier" title="Earlier (←)">
          ◀
        </button>
        <button
          type="button"
          onClick={() => onZoom(1 / ZOOM_STEP)}
          disabled={spanMs <= MIN_SPAN_MS}
          aria-label="Zoom in"
          title="Zoom in (+, ctrl+wheel)"
        >
          +
        </button>
        <span className="timeline-span-text mono" data-testid="timeline-span-text">
          {spanText(spanMs)}
        </span>
        <button
          type="button"
          onClick={() => onZoom(ZOOM_STEP)}
          disabled={spanMs >= MAX_SPAN_MS}
          aria-label="Zoom out"
          title="Zoom out (-, ctrl+wheel)"
        >
          −
        </button>
        <button
          type="button"
          onClick={() => onPan(0.5)}
          disabled={following}
          aria-label="Later"
          title="Later (→)"
        >
          ▶
        </button>
        <button type="button" onClick={onNow} disabled={following} aria-pressed={following}>
          Now
        </button>
      </fieldset>
      <fieldset className="range-picker" aria-label="Events">
        <button
          type="button"
          onClick={() => onStep('previous')}
          disabled={!canStep}
          data-testid="timeline-prev-event"
        >
          ‹ Previous event
        </button>
        <button
          type="button"
          onClick={() => onStep('next')}
          disabled={!canStep}
          data-testid="timeline-next-event"
        >
          Next event ›
        </button>
      </fieldset>
      <output
        className="timeline-position mono"
        data-testid="timeline-position"
        data-ms={playhead ?? ''}
        aria-label="Playing"
      >
        {playhead === null ? '—' : new Date(playhead).toLocaleString([], { hour12: false })}
      </output>
      {exportHref ? (
        <Link href={exportHref} className="button-quiet" data-testid="timeline-export-link">
          Export this range
        </Link>
      ) : null}
    </div>
  );
}
