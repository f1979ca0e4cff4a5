/**
 * What the zone and mask editor holds while the user draws: the camera's motion zones (named
 * polygons: only motion touching one counts, and events name them) and masks (polygons where
 * motion is ignored), which of them is selected, and a polygon being drawn. Every edit returns a
 * new draft; `toDetect` puts the result back into the camera's `detect` for `PUT`.
 */
import type { DetectSpec } from '@cctv/protocol';
import { isZoneName, POLYGON_MAX_POINTS, POLYGON_MIN_POINTS, POLYGONS_MAX } from '@cctv/protocol/patterns';
import { insertPoint, movePoint, type Point, polygonArea, removePoint, toPoints } from './zone-geometry';

export type ZoneMode = 'zones' | 'masks';

export interface DraftZone {
  name: string;
  points: Point[];
}

export interface ZoneDraft {
  zones: DraftZone[];
  masks: Point[][];
  mode: ZoneMode;
  /** The selected polygon of the current mode, and its selected point. */
  selected: { polygon: number; point: number | null } | null;
  /** A polygon of the current mode being drawn, not yet closed. */
  drawing: Point[] | null;
}

/** The draft of a camera's saved `detect` settings. */
export function draftOf(detect: DetectSpec | null | undefined): ZoneDraft {
  const motion = detect?.motion;
  return {
    zones: (motion?.zones ?? []).map((z) => ({ name: z.name, points: toPoints(z.points) })),
    masks: (motion?.masks ?? []).map(toPoints),
    mode: 'zones',
    selected: null,
    drawing: null,
  };
}

/** The camera's `detect` with the draft's zones and masks (none: the key is left out, so all motion counts). */
export function toDetect(detect: DetectSpec | null | undefined, draft: ZoneDraft): DetectSpec {
  const { motion: saved, ...rest } = detect ?? {};
  const { zones: _z, masks: _m, ...other } = saved ?? {};
  const motion = {
    ...other,
    ...(draft.zones.length > 0
      ? { zones: draft.zones.map((z) => ({ name: z.name, points: z.points })) }
      : {}),
    ...(draft.masks.length > 0 ? { masks: draft.masks } : {}),
  };
  return saved || Object.keys(motion).length > 0 ? { ...rest, motion } : rest;
}

/** The polygons of the current mode. */
export function polygonsOf(draft: ZoneDraft): Point[][] {
  return draft.mode === 'zones' ? draft.zones.map((z) => z.points) : draft.masks;
}

function withPolygon(draft: ZoneDraft, index: number, points: Point[]): ZoneDraft {
  if (draft.mode === 'masks')
    return { ...draft, masks: draft.masks.map((m, i) => (i === index ? points : m)) };
  return { ...draft, zones: draft.zones.map((z, i) => (i === index ? { ...z, points } : z)) };
}

/** Switches between zones and masks; an unfinished polygon is closed, or dropped when too short. */
export function setMode(draft: ZoneDraft, mode: ZoneMode): ZoneDraft {
  if (mode === draft.mode) return draft;
  return { ...finishDrawing(draft), mode, selected: null };
}

/** A free zone name: `zone-1`, `zone-2`… */
export function nextZoneName(zones: readonly DraftZone[]): string {
  const taken = new Set(zones.map((z) => z.name));
  let n = zones.length + 1;
  while (taken.has(`zone-${n}`)) n++;
  return `zone-${n}`;
}

/** Whether another polygon of the current mode may be drawn. */
export function canAddPolygon(draft: ZoneDraft): boolean {
  return polygonsOf(draft).length < POLYGONS_MAX;
}

/** A click on empty picture: the next point of the polygon being drawn, or the first of a new one. */
export function addPoint(draft: ZoneDraft, p: Point): ZoneDraft {
  if (draft.drawing) {
    if (draft.drawing.length >= POLYGON_MAX_POINTS) return draft;
    return { ...draft, drawing: [...draft.drawing, p] };
  }
  if (!canAddPolygon(draft)) return draft;
  return { ...draft, drawing: [p], selected: null };
}

/** Closes the polygon being drawn (it becomes selected), or drops it with fewer than 3 points. */
export function finishDrawing(draft: ZoneDraft): ZoneDraft {
  const points = draft.drawing;
  if (!points) return draft;
  if (points.length < POLYGON_MIN_POINTS) return { ...draft, drawing: null };
  const next =
    draft.mode === 'zones'
      ? { ...draft, zones: [...draft.zones, { name: nextZoneName(draft.zones), points }] }
      : { ...draft, masks: [...draft.masks, points] };
  return { ...next, drawing: null, selected: { polygon: polygonsOf(next).length - 1, point: null } };
}

/** Drops the polygon being drawn. */
export function cancelDrawing(draft: ZoneDraft): ZoneDraft {
  return { ...draft, drawing: null };
}

export function select(draft: ZoneDraft, polygon: number | null, point: number | null = null): ZoneDraft {
  return { ...draft, selected: polygon === null ? null : { polygon, point } };
}

/** Point `point` of polygon `polygon` (current mode) moved to `to`. */
export function moveVertex(draft: ZoneDraft, polygon: number, point: number, to: Point): ZoneDraft {
  const points = polygonsOf(draft)[polygon];
  if (!points) return draft;
  return withPolygon(draft, polygon, movePoint(points, point, to));
}

/** A point added on an edge of polygon `polygon`, before position `index`; it becomes the selected point. */
export function insertVertex(draft: ZoneDraft, polygon: number, index: number, p: Point): ZoneDraft {
  const points = polygonsOf(draft)[polygon];
  if (!points || points.length >= POLYGON_MAX_POINTS) return draft;
  return {
    ...withPolygon(draft, polygon, insertPoint(points, index, p)),
    selected: { polygon, point: index },
  };
}

/** Removes a polygon of the current mode. */
export function deletePolygon(draft: ZoneDraft, polygon: number): ZoneDraft {
  const next =
    draft.mode === 'zones'
      ? { ...draft, zones: draft.zones.filter((_, i) => i !== polygon) }
      : { ...draft, masks: draft.masks.filter((_, i) => i !== polygon) };
  return { ...next, selected: null };
}

/** Removes a point; a polygon left with fewer than 3 points is removed whole. */
export function deleteVertex(draft: ZoneDraft, polygon: number, point: number): ZoneDraft {
  const points = polygonsOf(draft)[polygon];
  if (!points) return draft;
  if (points.length <= POLYGON_MIN_POINTS) return deletePolygon(draft, polygon);
  return { ...withPolygon(draft, polygon, removePoint(points, point)), selected: { polygon, point: null } };
}

export function renameZone(draft: ZoneDraft, zone: number, name: string): ZoneDraft {
  return { ...draft, zones: draft.zones.map((z, i) => (i === zone ? { ...z, name } : z)) };
}

/** What keeps the draft from being saved, in words; empty when it can be. */
export function draftProblems(draft: ZoneDraft): string[] {
  const problems: string[] = [];
  if (draft.drawing) problems.push('Finish or cancel the polygon being drawn.');
  const seen = new Set<string>();
  draft.zones.forEach((z, i) => {
    const label = z.name || `zone ${i + 1}`;
    if (!isZoneName(z.name))
      problems.push(
        `Zone "${label}": a name is 1–63 letters, digits, spaces, "_", "." or "-", starting with a letter or digit.`,
      );
    else if (seen.has(z.name)) problems.push(`Zone "${z.name}" is named twice.`);
    seen.add(z.name);
    if (polygonArea(z.points) === 0) problems.push(`Zone "${label}" has no area.`);
  });
  draft.masks.forEach((m, i) => {
    if (polygonArea(m) === 0) problems.push(`Mask ${i + 1} has no area.`);
  });
  return problems;
}
