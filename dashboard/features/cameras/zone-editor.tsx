'use client';

import type { CameraChangeAnswer, CameraSettingsView } from '@cctv/protocol';
import { type KeyboardEvent, type PointerEvent, useRef, useState } from 'react';
import { LivePlayer } from '@/features/live/live-player';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';
import { changedSettings, pushText } from './camera-form';
import {
  addPoint,
  cancelDrawing,
  deletePolygon,
  deleteVertex,
  draftOf,
  draftProblems,
  finishDrawing,
  insertVertex,
  moveVertex,
  polygonsOf,
  select,
  setMode,
  toDetect,
  type ZoneDraft,
  type ZoneMode,
} from './zone-draft';
import {
  type Frame,
  hitEdge,
  hitPolygon,
  hitVertex,
  normalise,
  type Point,
  screenDistance,
  svgPoints,
} from './zone-geometry';
import { ZoneLists } from './zone-lists';
import { MASK_COLOUR, type PictureSize, ZONE_COLOUR, ZoneShapes } from './zone-shapes';

/** How near (CSS pixels) a press must be to a point or an edge to take it. */
const GRAB_PX = 10;

interface Props {
  camera: CameraSettingsView;
  /** The picture's size (the probe's, or the camera's as the node reports it). */
  size: PictureSize;
  /** A probe's JPEG as a data URL; without one the editor draws over the live view. */
  snapshot: string | null;
  masterPublicUrl: string;
  onSaved: (answer: CameraChangeAnswer) => void;
}

/**
 * Motion zones and masks drawn over the camera's picture. Click to add points (click the first
 * point, press Enter or "Finish" to close the polygon), drag a point to move it, press on an edge
 * of the selected polygon to add a point there; Delete removes the selected point (or polygon).
 */
export function ZoneEditor({ camera, size, snapshot, masterPublicUrl, onSaved }: Props) {
  const [draft, setDraft] = useState<ZoneDraft>(() => draftOf(camera.detect));
  const [saving, setSaving] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const dragging = useRef<{ polygon: number; point: number } | null>(null);
  const problems = draftProblems(draft);
  const polygons = polygonsOf(draft);
  const handle = Math.max(size.width, size.height) / 160;

  const edit = (next: ZoneDraft) => {
    setDraft(next);
    setMessage(null);
  };

  /** The pointer's place on the picture, and the picture's size on screen. */
  function locate(ev: PointerEvent<SVGSVGElement>): { p: Point; frame: Frame } | null {
    const svg = svgRef.current;
    const ctm = svg?.getScreenCTM();
    if (!svg || !ctm) return null;
    const at = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
    return {
      p: normalise(at.x, at.y, size),
      frame: { width: size.width * ctm.a, height: size.height * ctm.d },
    };
  }

  function press(ev: PointerEvent<SVGSVGElement>) {
    const here = locate(ev);
    if (!here) return;
    const { p, frame } = here;
    // Keys (Enter, Escape, Delete) go to the surface; scrolling it now would move the next click.
    ev.currentTarget.focus({ preventScroll: true });
    if (draft.drawing) {
      const start = draft.drawing[0];
      const closes = draft.drawing.length >= 3 && start && screenDistance(p, start, frame) <= GRAB_PX;
      edit(closes ? finishDrawing(draft) : addPoint(draft, p));
      return;
    }
    const vertex = hitVertex(polygons, p, frame, GRAB_PX);
    if (vertex) {
      dragging.current = vertex;
      ev.currentTarget.setPointerCapture(ev.pointerId);
      edit(select(draft, vertex.polygon, vertex.point));
      return;
    }
    const selected = draft.selected ? polygons[draft.selected.polygon] : undefined;
    const edge = selected && draft.selected ? hitEdge(selected, p, frame, GRAB_PX / 2) : -1;
    if (draft.selected && edge > 0) {
      dragging.current = { polygon: draft.selected.polygon, point: edge };
      ev.currentTarget.setPointerCapture(ev.pointerId);
      edit(insertVertex(draft, draft.selected.polygon, edge, p));
      return;
    }
    // A press inside a polygon selects it; inside the selected one it starts a new polygon there.
    const inside = hitPolygon(polygons, p);
    edit(inside >= 0 && inside !== draft.selected?.polygon ? select(draft, inside) : addPoint(draft, p));
  }

  function move(ev: PointerEvent<SVGSVGElement>) {
    const drag = dragging.current;
    const here = drag ? locate(ev) : null;
    if (drag && here) setDraft((d) => moveVertex(d, drag.polygon, drag.point, here.p));
  }

  function release() {
    dragging.current = null;
  }

  function removeSelected() {
    const s = draft.selected;
    if (!s) return;
    edit(s.point === null ? deletePolygon(draft, s.polygon) : deleteVertex(draft, s.polygon, s.point));
  }

  function key(ev: KeyboardEvent<SVGSVGElement>) {
    if (ev.key === 'Enter') edit(finishDrawing(draft));
    else if (ev.key === 'Escape') edit(draft.drawing ? cancelDrawing(draft) : select(draft, null));
    else if (ev.key === 'Delete' || ev.key === 'Backspace') removeSelected();
    else return;
    ev.preventDefault();
  }

  async function save() {
    setSaving(true);
    setMessage(null);
    try {
      const res = await masterFetch('cameraUpdate', {
        params: { id: camera.id },
        body: changedSettings(camera, { detect: toDetect(camera.detect, draft) }),
      });
      if (res.ok) {
        const answer = await res.json();
        setMessage({ ok: true, text: `Zones saved. ${pushText(answer)}` });
        onSaved(answer);
      } else {
        const err = await errorOf(res);
        setMessage({ ok: false, text: `Not saved: ${err?.message ?? `HTTP ${res.status}`}` });
      }
    } catch {
      setMessage({ ok: false, text: 'Not saved: the dashboard server is unreachable.' });
    }
    setSaving(false);
  }

  const colour = draft.mode === 'zones' ? ZONE_COLOUR : MASK_COLOUR;
  const selectedPolygon = draft.selected ? polygons[draft.selected.polygon] : undefined;
  const surface = (
    <svg
      ref={svgRef}
      viewBox={`0 0 ${size.width} ${size.height}`}
      preserveAspectRatio="xMidYMid meet"
      className="zone-surface"
      role="application"
      aria-label={`Draw ${draft.mode}: click to add points, drag a point to move it`}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: the drawing surface takes Enter, Escape and Delete
      tabIndex={0}
      onPointerDown={press}
      onPointerMove={move}
      onPointerUp={release}
      onPointerCancel={release}
      onKeyDown={key}
      data-testid="zone-surface"
      data-mode={draft.mode}
    >
      <ZoneShapes
        size={size}
        zones={draft.zones}
        masks={draft.masks}
        highlight={draft.selected ? { kind: draft.mode, index: draft.selected.polygon } : null}
      />
      {selectedPolygon?.map(([x, y], i) => (
        <circle
          // biome-ignore lint/suspicious/noArrayIndexKey: a point's identity is its place
          key={i}
          cx={x * size.width}
          cy={y * size.height}
          r={draft.selected?.point === i ? handle * 1.6 : handle}
          fill={draft.selected?.point === i ? '#fff' : colour}
          stroke="#000"
          strokeWidth={handle / 4}
          data-testid="zone-handle"
        />
      ))}
      {draft.drawing ? (
        <g data-testid="zone-drawing" data-points={draft.drawing.length}>
          <polyline
            points={svgPoints(draft.drawing, size.width, size.height)}
            fill="none"
            stroke={colour}
            strokeWidth={handle / 2}
            strokeDasharray={`${handle} ${handle / 2}`}
          />
          {draft.drawing.map(([x, y], i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: a point's identity is its place
            <circle key={i} cx={x * size.width} cy={y * size.height} r={handle} fill={colour} />
          ))}
        </g>
      ) : null}
    </svg>
  );

  return (
    <section className="zone-editor" aria-label="Motion zones and masks" data-testid="zone-editor">
      <div className="zone-toolbar">
        <fieldset className="range-picker" aria-label="What to draw">
          {(['zones', 'masks'] as ZoneMode[]).map((m) => (
            <button
              key={m}
              type="button"
              className={draft.mode === m ? 'active' : ''}
              aria-pressed={draft.mode === m}
              onClick={() => edit(setMode(draft, m))}
              data-testid={`zone-mode-${m}`}
            >
              {m === 'zones' ? `Zones (${draft.zones.length})` : `Masks (${draft.masks.length})`}
            </button>
          ))}
        </fieldset>
        <button
          type="button"
          className="button-quiet"
          disabled={!draft.drawing || draft.drawing.length < 3}
          onClick={() => edit(finishDrawing(draft))}
          data-testid="zone-finish"
        >
          Finish polygon
        </button>
        <button
          type="button"
          className="button-quiet"
          disabled={!draft.drawing}
          onClick={() => edit(cancelDrawing(draft))}
        >
          Cancel polygon
        </button>
        <button
          type="button"
          className="button-quiet"
          disabled={!draft.selected}
          onClick={removeSelected}
          data-testid="zone-delete-selected"
        >
          {draft.selected?.point != null ? 'Delete point' : 'Delete polygon'}
        </button>
      </div>
      <p className="sub">
        {draft.mode === 'zones'
          ? 'Zones: only motion touching a zone makes an event, and the event names the zones it touched.'
          : 'Masks: motion inside a mask is ignored (trees, a road, the clock overlay).'}{' '}
        Click to add points (inside a polygon: select it; inside the selected one: start a new one); click the
        first point or “Finish polygon” to close it; drag a point to move it; press on an edge of the selected
        polygon to add a point; Delete removes the selected point.
      </p>
      <div className="zone-stage">
        {snapshot ? (
          <>
            {/* biome-ignore lint/performance/noImgElement: a data URL from the probe, nothing to optimise */}
            <img src={snapshot} alt={`Snapshot of ${camera.name}`} className="zone-picture" />
            {surface}
          </>
        ) : (
          <LivePlayer cameraId={camera.id} masterPublicUrl={masterPublicUrl} overlay={surface} />
        )}
      </div>
      <ZoneLists
        draft={draft}
        onEdit={edit}
        onSelectZone={(i) => setDraft((d) => select(setMode(d, 'zones'), i))}
      />
      {problems.length > 0 ? (
        <ul className="notice" data-testid="zone-problems">
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      ) : null}
      <div className="zone-actions">
        <button
          type="button"
          className="button-primary"
          disabled={saving || problems.length > 0}
          onClick={save}
          data-testid="zone-save"
        >
          {saving ? 'Saving…' : 'Save zones and masks'}
        </button>
        <button type="button" className="button-quiet" onClick={() => edit(draftOf(camera.detect))}>
          Undo changes
        </button>
        {message ? (
          <span
            role={message.ok ? 'status' : 'alert'}
            className={message.ok ? 'sub' : 'status-error'}
            data-testid="zone-message"
          >
            {message.text}
          </span>
        ) : null}
      </div>
    </section>
  );
}
