/**
 * What moves in a sequence of I420 frames, as rectangles: for exports that blur people, not only
 * their faces. The luma is averaged over cells (16×16 px by default), each cell compared with a
 * background learnt over the last seconds; cells that differ by more than `threshold` levels are
 * moving, grown by one cell and joined into connected regions. A region's cells learn the
 * background four times slower than still ones, so a person who stops stays blurred for a while
 * (`learnFrames` × 4) before becoming background. Pure, no model.
 */
import type { I420Image, Rect } from './faces/types.ts';

export interface MovingRegionOptions {
  /** Cell side in pixels (default 16). */
  cell?: number;
  /** Mean luma difference, in levels, that makes a cell moving (default 10). */
  threshold?: number;
  /** Frames over which a still cell's background follows the scene (default 75: 5 s at 15 fps). */
  learnFrames?: number;
  /** Smallest region kept, in cells (default 2). */
  minCells?: number;
}

export class MovingRegions {
  private readonly cell: number;
  private readonly threshold: number;
  private readonly rate: number;
  private readonly minCells: number;
  private background: Float32Array | null = null;
  private cols = 0;
  private rows = 0;

  constructor(options: MovingRegionOptions = {}) {
    this.cell = options.cell ?? 16;
    this.threshold = options.threshold ?? 10;
    this.rate = 1 / (options.learnFrames ?? 75);
    this.minCells = options.minCells ?? 2;
  }

  /** The moving regions of `image` against what came before (none on the first frame); then learns it. */
  update(image: I420Image): Rect[] {
    const means = this.cellMeans(image);
    if (!this.background || means.length !== this.background.length) {
      this.background = means;
      return [];
    }
    const bg = this.background;
    const moving = new Uint8Array(means.length);
    for (let i = 0; i < means.length; i++)
      if (Math.abs((means[i] as number) - (bg[i] as number)) > this.threshold) moving[i] = 1;
    const grown = this.dilate(moving);
    for (let i = 0; i < means.length; i++) {
      const rate = grown[i] ? this.rate / 4 : this.rate;
      bg[i] = (bg[i] as number) + ((means[i] as number) - (bg[i] as number)) * rate;
    }
    return this.regions(grown, image);
  }

  private cellMeans(image: I420Image): Float32Array {
    const { width, height, data } = image;
    const c = this.cell;
    this.cols = Math.ceil(width / c);
    this.rows = Math.ceil(height / c);
    const sums = new Float32Array(this.cols * this.rows);
    const counts = new Uint32Array(this.cols * this.rows);
    for (let y = 0; y < height; y++) {
      const rowBase = Math.floor(y / c) * this.cols;
      const line = y * width;
      for (let x = 0; x < width; x++) {
        const k = rowBase + Math.floor(x / c);
        sums[k] = (sums[k] as number) + (data[line + x] as number);
        counts[k] = (counts[k] as number) + 1;
      }
    }
    for (let i = 0; i < sums.length; i++) sums[i] = (sums[i] as number) / (counts[i] as number);
    return sums;
  }

  private dilate(mask: Uint8Array): Uint8Array {
    const out = new Uint8Array(mask.length);
    const { cols, rows } = this;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        if (!mask[r * cols + c]) continue;
        for (let dr = -1; dr <= 1; dr++)
          for (let dc = -1; dc <= 1; dc++) {
            const rr = r + dr;
            const cc = c + dc;
            if (rr >= 0 && rr < rows && cc >= 0 && cc < cols) out[rr * cols + cc] = 1;
          }
      }
    return out;
  }

  /** Bounding rectangles (pixels) of the mask's 4-connected regions of at least minCells. */
  private regions(mask: Uint8Array, image: I420Image): Rect[] {
    const { cols, rows, cell } = this;
    const seen = new Uint8Array(mask.length);
    const out: Rect[] = [];
    const stack: number[] = [];
    for (let start = 0; start < mask.length; start++) {
      if (!mask[start] || seen[start]) continue;
      seen[start] = 1;
      stack.push(start);
      let count = 0;
      let c0 = cols;
      let r0 = rows;
      let c1 = -1;
      let r1 = -1;
      while (stack.length > 0) {
        const k = stack.pop() as number;
        count++;
        const r = Math.floor(k / cols);
        const c = k % cols;
        c0 = Math.min(c0, c);
        c1 = Math.max(c1, c);
        r0 = Math.min(r0, r);
        r1 = Math.max(r1, r);
        for (const n of [c > 0 ? k - 1 : -1, c < cols - 1 ? k + 1 : -1, k - cols, k + cols])
          if (n >= 0 && n < mask.length && mask[n] && !seen[n]) {
            seen[n] = 1;
            stack.push(n);
          }
      }
      if (count < this.minCells) continue;
      const x = c0 * cell;
      const y = r0 * cell;
      out.push({
        x,
        y,
        width: Math.min(image.width, (c1 + 1) * cell) - x,
        height: Math.min(image.height, (r1 + 1) * cell) - y,
      });
    }
    return out;
  }
}
