'use client';

import type { CameraView, RecordingSpan } from '@cctv/protocol';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { TimelineBar } from '@/features/timeline/timeline-bar';
import { fetchTimeline, type Marker, markersOf, stepEvent } from '@/features/timeline/timeline-data';
import type { TimelineHls } from '@/features/timeline/timeline-hls';
import { TimelinePlayer } from '@/features/timeline/timeline-player';
import { useTimelineSync } from '@/features/timeline/timeline-sync';
import { TimelineToolbar } from '@/features/timeline/timeline-toolbar';
import { type TimelineParams, timelineQuery } from '@/features/timeline/timeline-url';
import {
  bounds,
  centredOn,
  pan,
  type TimeWindow,
  tickLabel,
  ticks,
  zoom,
} from '@/features/timeline/timeline-window';

/** While the bars end now, their data is read again this often (new coverage, new events). */
const REFRESH_MS = 5_000;
/** Pans and zooms settle this long before the bars' data is read for the new range. */
const FETCH_DEBOUNCE_MS = 250;
/** What the export link offers at most: the master refuses exports over 1 h. */
const EXPORT_MAX_MS = 3600_000;

interface CameraData {
  spans: RecordingSpan[];
  markers: Marker[];
  error: string | null;
}

interface Props {
  cameras: CameraView[];
  initial: TimelineParams;
  /** The master's camera list failed: the page says why above. */
  camerasError: boolean;
}

/** The timeline page's interactive part: camera choice, bars, players, event stepping. */
export function TimelineView({ cameras, initial, camerasError }: Props) {
  const known = useMemo(() => new Map(cameras.map((c) => [c.id, c])), [cameras]);
  const [selected, setSelected] = useState<string[]>(() => {
    const wanted = initial.cameras.filter((id) => camerasError || known.has(id));
    return wanted.length > 0 || initial.cameras.length > 0 ? wanted : cameras.slice(0, 1).map((c) => c.id);
  });
  const unknown = initial.cameras.filter((id) => !camerasError && !known.has(id));
  const [now, setNow] = useState(() => Date.now());
  const [win, setWin] = useState<TimeWindow>(() =>
    initial.at === null
      ? { end: null, spanMs: initial.spanMs }
      : centredOn(initial.at, initial.spanMs, Date.now()),
  );
  const [playback, setPlayback] = useState<{ at: number; key: number } | null>(() =>
    initial.at === null ? null : { at: initial.at, key: 0 },
  );
  const [data, setData] = useState<Record<string, CameraData>>({});
  const [refresh, setRefresh] = useState(0);
  const [stepError, setStepError] = useState<string | null>(null);
  const controllers = useRef(new Map<string, TimelineHls>());
  const barsRef = useRef<HTMLDivElement>(null);

  const following = win.end === null;
  const { from, to } = bounds(win, now);

  // The clock the bars follow, and the periodic re-read while they show now.
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(tick);
  }, []);
  useEffect(() => {
    if (!following) return;
    const t = setInterval(() => setRefresh((n) => n + 1), REFRESH_MS);
    return () => clearInterval(t);
  }, [following]);

  // The address keeps the cameras, the span and the moment played, so it can be shared.
  useEffect(() => {
    const q = timelineQuery({ cameras: selected, at: playback?.at ?? null, spanMs: win.spanMs });
    if (window.location.search !== q)
      window.history.replaceState(null, '', `${window.location.pathname}${q}`);
  }, [selected, playback?.at, win.spanMs]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `now` is read, not a trigger; `refresh` is one
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(() => {
      const range = bounds(win, Date.now());
      // A margin on the left, so a short drag back in time shows data at once.
      const fetchFrom = range.from - win.spanMs / 2;
      for (const id of selected) {
        fetchTimeline(id, fetchFrom, range.to, abort.signal)
          .then((answer) => {
            if (answer.ok) {
              const { spans } = answer.value;
              setData((d) => ({ ...d, [id]: { spans, markers: markersOf(answer.value), error: null } }));
            } else if (answer.status === 401) {
              window.location.reload();
            } else {
              const error =
                answer.status === 403 || answer.status === 404
                  ? 'This camera is not in your access list.'
                  : `Could not read the timeline (${answer.message}).`;
              setData((d) => ({
                ...d,
                [id]: { spans: d[id]?.spans ?? [], markers: d[id]?.markers ?? [], error },
              }));
            }
          })
          .catch((err: unknown) => {
            if (abort.signal.aborted) return;
            setData((d) => ({
              ...d,
              [id]: { spans: [], markers: [], error: `the dashboard server is unreachable: ${String(err)}` },
            }));
          });
      }
    }, FETCH_DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [selected, win, refresh]);

  const play = useCallback((at: number) => {
    const t = Math.min(at, Date.now() - 1_000);
    setPlayback((p) => ({ at: t, key: (p?.key ?? 0) + 1 }));
    setStepError(null);
    // A moment off the bars (an event stepped to) brings the bars to it.
    setWin((w) => {
      const b = bounds(w, Date.now());
      return t < b.from || t > b.to ? centredOn(t, w.spanMs, Date.now()) : w;
    });
  }, []);

  const onController = useCallback((cameraId: string, c: TimelineHls | null) => {
    if (c) controllers.current.set(cameraId, c);
    else controllers.current.delete(cameraId);
  }, []);

  const playhead = useTimelineSync(controllers, selected, playback);

  const onPan = useCallback((fraction: number) => setWin((w) => pan(w, fraction, Date.now())), []);
  const onZoom = useCallback(
    (factor: number, anchor: number) => setWin((w) => zoom(w, factor, anchor, Date.now())),
    [],
  );

  // ctrl+wheel zooms around the pointer; React's wheel listeners are passive, so this one is not.
  useEffect(() => {
    const el = barsRef.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      const track = el.querySelector('.timeline-track')?.getBoundingClientRect();
      const anchor = track && track.width > 0 ? (e.clientX - track.left) / track.width : 0.5;
      const factor = Math.min(4, Math.max(0.25, Math.exp(e.deltaY * 0.005)));
      onZoom(factor, Math.min(1, Math.max(0, anchor)));
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [onZoom]);

  const step = async (direction: 'previous' | 'next') => {
    setStepError(null);
    const ref = playhead ?? playback?.at ?? (direction === 'previous' ? Date.now() : from);
    try {
      const answer = await stepEvent(selected, ref, direction, Date.now());
      if (!answer.ok) setStepError(`Could not search events (${answer.message}).`);
      else if (answer.value === null) setStepError(`No ${direction} event for the selected cameras.`);
      else play(answer.value);
    } catch (err) {
      setStepError(`the dashboard server is unreachable: ${String(err)}`);
    }
  };

  const toggleCamera = (id: string, on: boolean) =>
    setSelected((s) =>
      on
        ? [...s, id].sort(
            (a, b) => cameras.findIndex((c) => c.id === a) - cameras.findIndex((c) => c.id === b),
          )
        : s.filter((c) => c !== id),
    );

  const exportTo = Math.min(to, now);
  const exportFrom = Math.max(from, exportTo - EXPORT_MAX_MS);
  const exportHref = selected[0]
    ? `/exports?${new URLSearchParams({
        camera: selected[0],
        from: new Date(exportFrom).toISOString(),
        to: new Date(exportTo).toISOString(),
      })}`
    : null;

  return (
    <>
      <fieldset className="timeline-cameras" aria-label="Cameras">
        <legend className="sub">Cameras</legend>
        {cameras.length === 0 ? <span className="sub">No cameras visible to you.</span> : null}
        {cameras.map((c) => (
          <label key={c.id} className="timeline-camera" data-testid="timeline-camera-option">
            <input
              type="checkbox"
              value={c.id}
              checked={selected.includes(c.id)}
              onChange={(e) => toggleCamera(c.id, e.target.checked)}
            />
            <span>{c.name}</span>
            <span className="sub mono">{c.id}</span>
          </label>
        ))}
      </fieldset>
      {unknown.length > 0 ? (
        <p className="notice" role="alert" data-testid="timeline-unknown">
          Not in your access list or unknown: <span className="mono">{unknown.join(', ')}</span>
        </p>
      ) : null}

      <TimelineToolbar
        spanMs={win.spanMs}
        following={following}
        playhead={playhead}
        exportHref={exportHref}
        canStep={selected.length > 0}
        onPreset={(spanMs) => setWin((w) => zoom({ ...w }, spanMs / w.spanMs, 0.5, Date.now()))}
        onZoom={(factor) => onZoom(factor, 0.5)}
        onPan={onPan}
        onNow={() => setWin((w) => ({ end: null, spanMs: w.spanMs }))}
        onStep={(d) => void step(d)}
      />
      {stepError ? (
        <p className="sub timeline-step-error" role="status" data-testid="timeline-step-error">
          {stepError}
        </p>
      ) : null}

      <div className="timeline-bars" ref={barsRef} data-testid="timeline-bars">
        <div className="timeline-axis" aria-hidden="true">
          <div className="timeline-label" />
          <div className="timeline-axis-track">
            {ticks(from, to).map((t) => (
              <span
                key={t}
                className="timeline-tick"
                style={{ left: `${((t - from) / (to - from)) * 100}%` }}
              >
                {tickLabel(t, to - from)}
              </span>
            ))}
          </div>
        </div>
        {selected.map((id) => (
          <TimelineBar
            key={id}
            cameraId={id}
            name={known.get(id)?.name ?? id}
            from={from}
            to={to}
            spans={data[id]?.spans ?? []}
            markers={data[id]?.markers ?? []}
            playhead={playhead}
            error={data[id]?.error ?? null}
            onPlay={play}
            onPan={onPan}
            onZoom={onZoom}
          />
        ))}
        {selected.length === 0 ? <p className="sub">Pick one or more cameras above.</p> : null}
      </div>

      {playback ? (
        <div className={`timeline-players timeline-players-${Math.min(selected.length, 4)}`}>
          {selected.map((id) => (
            <TimelinePlayer
              // A fresh player per playback: no state of the previous one (ready, error) shows.
              key={`${id}:${playback.key}`}
              cameraId={id}
              name={known.get(id)?.name ?? id}
              at={playback.at}
              playKey={playback.key}
              onController={onController}
            />
          ))}
        </div>
      ) : (
        <p className="sub">Click a bar (or an event marker) to play the recording from that moment.</p>
      )}
    </>
  );
}
