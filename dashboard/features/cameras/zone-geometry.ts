/**
 * The plane of the zone and mask editor: points normalised to the picture (0..1, x to the
 * right, y down, as `detect.motion` keeps them), hit-testing in screen pixels so a point is as
 * easy to grab on a wide picture as on a narrow one, and the edits the editor makes. Pure: the
 * editor hands in the picture's size on screen.
 */

export type Point = [number, number];

/** The picture's size on screen, in the units the pointer reports (CSS pixels). */
export interface Frame {
  width: number;
  height: number;
}

/** Points as the protocol types them (`[number, number]` tuples from JSON) as editable points. */
export function toPoints(points: readonly (readonly number[])[]): Point[] {
  return points.map(([x, y]) => [x ?? 0, y ?? 0]);
}

/** Four decimals: a tenth of a pixel on a 4K picture, and short JSON. */
const PRECISION = 1e4;

const clamp01 = (v: number) => Math.max(0, Math.min(1, v));

/** A position in the picture (screen units from its top-left corner) as a normalised point, clamped to the picture. */
export function normalise(x: number, y: number, frame: Frame): Point {
  if (frame.width <= 0 || frame.height <= 0) return [0, 0];
  return [
    Math.round(clamp01(x / frame.width) * PRECISION) / PRECISION,
    Math.round(clamp01(y / frame.height) * PRECISION) / PRECISION,
  ];
}

/** Distance between two normalised points, measured on screen. */
export function screenDistance(a: Point, b: Point, frame: Frame): number {
  return Math.hypot((a[0] - b[0]) * frame.width, (a[1] - b[1]) * frame.height);
}

/** Whether `p` lies inside `polygon` (even-odd rule, as the agent fills it). */
export function containsPoint(polygon: readonly Point[], p: Point): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] as Point;
    const [xj, yj] = polygon[j] as Point;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export interface VertexHit {
  polygon: number;
  point: number;
}

/**
 * The vertex nearest `p` within `radius` screen pixels, among all polygons; on a tie the later
 * polygon wins, as it is drawn on top.
 */
export function hitVertex(
  polygons: readonly (readonly Point[])[],
  p: Point,
  frame: Frame,
  radius: number,
): VertexHit | null {
  let best: VertexHit | null = null;
  let bestDistance = radius;
  polygons.forEach((polygon, pi) => {
    polygon.forEach((q, qi) => {
      const d = screenDistance(p, q, frame);
      if (d <= bestDistance) {
        bestDistance = d;
        best = { polygon: pi, point: qi };
      }
    });
  });
  return best;
}

/** The topmost (last drawn) polygon containing `p`, or -1. */
export function hitPolygon(polygons: readonly (readonly Point[])[], p: Point): number {
  for (let i = polygons.length - 1; i >= 0; i--) if (containsPoint(polygons[i] as Point[], p)) return i;
  return -1;
}

/** Screen distance from `p` to the segment a–b. */
function segmentDistance(p: Point, a: Point, b: Point, frame: Frame): number {
  const ax = a[0] * frame.width;
  const ay = a[1] * frame.height;
  const dx = b[0] * frame.width - ax;
  const dy = b[1] * frame.height - ay;
  const px = p[0] * frame.width - ax;
  const py = p[1] * frame.height - ay;
  const len = dx * dx + dy * dy;
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, (px * dx + py * dy) / len));
  return Math.hypot(px - t * dx, py - t * dy);
}

/**
 * The edge of a closed polygon within `radius` screen pixels of `p` (the nearest): the index to
 * insert a new point at, so the point lands between that edge's ends; -1 when none is near.
 */
export function hitEdge(polygon: readonly Point[], p: Point, frame: Frame, radius: number): number {
  let best = -1;
  let bestDistance = radius;
  for (let i = 0; i < polygon.length; i++) {
    const d = segmentDistance(p, polygon[i] as Point, polygon[(i + 1) % polygon.length] as Point, frame);
    if (d <= bestDistance) {
      bestDistance = d;
      best = i + 1;
    }
  }
  return best;
}

/** The polygon with point `index` moved to `to` (clamped into the picture). */
export function movePoint(polygon: readonly Point[], index: number, to: Point): Point[] {
  const clamped: Point = [clamp01(to[0]), clamp01(to[1])];
  return polygon.map((q, i) => (i === index ? clamped : q));
}

/** The polygon with `p` inserted before position `index`. */
export function insertPoint(polygon: readonly Point[], index: number, p: Point): Point[] {
  return [...polygon.slice(0, index), p, ...polygon.slice(index)];
}

/** The polygon without point `index`. */
export function removePoint(polygon: readonly Point[], index: number): Point[] {
  return polygon.filter((_, i) => i !== index);
}

/** Area in the picture's share (0..1) of a normalised polygon: 0 for one whose points lie on a line. */
export function polygonArea(polygon: readonly Point[]): number {
  let twice = 0;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] as Point;
    const [xj, yj] = polygon[j] as Point;
    twice += (xj + xi) * (yj - yi);
  }
  return Math.abs(twice) / 2;
}

/** SVG `points` for a normalised polygon drawn in a `viewBox` of the picture's size. */
export function svgPoints(polygon: readonly Point[], width: number, height: number): string {
  return polygon.map(([x, y]) => `${x * width},${y * height}`).join(' ');
}

/** Where a zone's name is written: the mean of its points. */
export function labelPoint(polygon: readonly Point[]): Point {
  if (polygon.length === 0) return [0, 0];
  const sx = polygon.reduce((s, q) => s + q[0], 0);
  const sy = polygon.reduce((s, q) => s + q[1], 0);
  return [sx / polygon.length, sy / polygon.length];
}
