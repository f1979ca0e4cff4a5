/**
 * Privacy masking of faces in a YUV 4:2:0 frame before it becomes a snapshot: each region is
 * grown by a margin, pixelated (luma and chroma) with blocks of a fifth of its size, and the
 * blocks smoothed with a box blur. A fine mosaic keeps the layout of eyes and mouth (a face
 * detector still finds it); this leaves neither a recognisable nor a detectable face, while
 * the rest of the scene stays as it was.
 */
import type { I420Image, Rect } from './faces/types.ts';

function averageBlocks(
  plane: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  block: number,
): void {
  for (let by = y0; by < y1; by += block) {
    const ey = Math.min(by + block, y1);
    for (let bx = x0; bx < x1; bx += block) {
      const ex = Math.min(bx + block, x1);
      let sum = 0;
      for (let y = by; y < ey; y++) for (let x = bx; x < ex; x++) sum += plane[y * stride + x] as number;
      const mean = Math.round(sum / ((ey - by) * (ex - bx)));
      for (let y = by; y < ey; y++) plane.fill(mean, y * stride + bx, y * stride + ex);
    }
  }
}

/** Two passes (rows, then columns) of a box blur with running sums, inside the rectangle only. */
function boxBlur(
  plane: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  radius: number,
): void {
  const line = new Uint8Array(Math.max(x1 - x0, y1 - y0));
  const pass = (count: number, length: number, at: (i: number, j: number) => number) => {
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < length; j++) line[j] = plane[at(i, j)] as number;
      let sum = 0;
      let n = 0;
      for (let j = 0; j < Math.min(radius, length); j++) {
        sum += line[j] as number;
        n++;
      }
      for (let j = 0; j < length; j++) {
        const add = j + radius;
        if (add < length) {
          sum += line[add] as number;
          n++;
        }
        const drop = j - radius - 1;
        if (drop >= 0) {
          sum -= line[drop] as number;
          n--;
        }
        plane[at(i, j)] = Math.round(sum / n);
      }
    }
  };
  pass(y1 - y0, x1 - x0, (i, j) => (y0 + i) * stride + x0 + j);
  pass(x1 - x0, y1 - y0, (i, j) => (y0 + j) * stride + x0 + i);
}

/**
 * Masks each region in place; regions are in image pixels and may reach past the edges. `blocks`:
 * the mosaic's blocks across a region (fewer: coarser, less of a face left for a detector).
 */
export function blurRegions(image: I420Image, regions: Rect[], margin = 0.2, blocks = 5): void {
  const { width, height, data } = image;
  const cw = width >> 1;
  const ch = height >> 1;
  const u = data.subarray(width * height, width * height + cw * ch);
  const v = data.subarray(width * height + cw * ch, width * height + 2 * cw * ch);
  for (const r of regions) {
    const mx = r.width * margin;
    const my = r.height * margin;
    // Even bounds so the chroma planes cover exactly the same area.
    const x0 = Math.max(0, Math.floor((r.x - mx) / 2) * 2);
    const y0 = Math.max(0, Math.floor((r.y - my) / 2) * 2);
    const x1 = Math.min(width, Math.ceil((r.x + r.width + mx) / 2) * 2);
    const y1 = Math.min(height, Math.ceil((r.y + r.height + my) / 2) * 2);
    if (x1 <= x0 || y1 <= y0) continue;
    const block = Math.max(4, Math.round(Math.max(x1 - x0, y1 - y0) / blocks / 2) * 2);
    averageBlocks(data, width, x0, y0, x1, y1, block);
    averageBlocks(u, cw, x0 / 2, y0 / 2, x1 / 2, y1 / 2, block / 2);
    averageBlocks(v, cw, x0 / 2, y0 / 2, x1 / 2, y1 / 2, block / 2);
    // Whole radii: a half-pixel radius indexed past the line and zeroed the chroma (green boxes).
    const chromaRadius = Math.max(1, Math.round(block / 4));
    boxBlur(data, width, x0, y0, x1, y1, block / 2);
    boxBlur(u, cw, x0 / 2, y0 / 2, x1 / 2, y1 / 2, chromaRadius);
    boxBlur(v, cw, x0 / 2, y0 / 2, x1 / 2, y1 / 2, chromaRadius);
  }
}
