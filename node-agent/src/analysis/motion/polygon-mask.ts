/**
 * Normalised polygons (masks, zones) drawn once onto the detector's working grid. A cell
 * belongs to a polygon when its centre lies inside it (even-odd rule), so a polygon that
 * reaches the frame's edges (0 or 1) covers the edge cells too.
 */
import type { Polygon } from '@cctv/protocol';

const EDGE_EPSILON = 1e-9;

/**
 * ORs `bits` into `out[y * width + x]` for every cell of a width×height grid whose centre is
 * inside `polygon` (points normalised to 0..1). Polygons with fewer than 3 points cover nothing.
 */
export function rasterisePolygon(
  polygon: Polygon,
  width: number,
  height: number,
  out: Uint8Array | Uint32Array,
  bits: number,
): void {
  const n = polygon.length;
  if (n < 3) return;
  const crossings: number[] = [];
  for (let y = 0; y < height; y++) {
    const cy = (y + 0.5) / height;
    crossings.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = polygon[i] as [number, number];
      const [xj, yj] = polygon[j] as [number, number];
      if (yi > cy !== yj > cy) crossings.push(xi + ((cy - yi) / (yj - yi)) * (xj - xi));
    }
    crossings.sort((a, b) => a - b);
    const row = y * width;
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Cells whose centre (x + 0.5) / width lies in [left, right); the epsilon keeps a centre
      // exactly on an edge on the same side whatever the rounding of the crossing.
      const from = Math.max(0, Math.ceil((crossings[k] as number) * width - 0.5 - EDGE_EPSILON));
      const to = Math.min(
        width - 1,
        Math.ceil((crossings[k + 1] as number) * width - 0.5 - EDGE_EPSILON) - 1,
      );
      for (let x = from; x <= to; x++) out[row + x] = ((out[row + x] as number) | bits) >>> 0;
    }
  }
}
