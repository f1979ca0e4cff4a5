/**
 * The pixel work of the motion detector on its working grid: the box-average downsample (the
 * blur), the running-average background in fixed point, the absolute difference and the
 * threshold, in one pass per frame. Grid values are "quarter levels" (a cell's mean times 4,
 * 0..1020), so a 2×2 average needs no division; the background keeps 6 more fraction bits.
 */
import { endianness } from 'node:os';
import { popcount, wordsPerRow } from './cell-bits.ts';

/** Fraction bits of the background (quarter levels << 6 fits in 16 bits). */
const BG_SHIFT = 6;
const BG_ROUND = 1 << (BG_SHIFT - 1);
/** The steady learning weight (of 65536): 1/64 per frame. */
export const STEADY_WEIGHT = 65_536 >> BG_SHIFT;
/** The noise median samples one grid row in this many. */
const NOISE_ROW_STEP = 4;
/** Quarter levels per gray level. */
export const Q = 4;

export class BackgroundModel {
  readonly gridWidth: number;
  readonly gridHeight: number;
  /** The frame last loaded on the grid, quarter levels. */
  readonly cur: Int32Array;
  private readonly rowSums: Int32Array;
  /** Background, quarter levels << BG_SHIFT. */
  private readonly bg: Int32Array;
  /** A copy of the input frame with a 32-bit view, for the 2×2 path (4 pixels per load). */
  private readonly frame: Uint8Array | null;
  private readonly words: Uint32Array | null;
  /** Written by `compare`: changed cells per grid row. */
  readonly rowCounts: Int32Array;
  /** Set by `compare`: changed cells. */
  changedCells = 0;
  /** Some cells are masked. */
  private readonly masked: boolean;
  /** `active` as a bit mask (`cell-bits.ts`), for the packed pass. */
  private readonly activeBits: Uint32Array;
  private readonly rowWords: number;
  /** The last `compare` took the packed path (`cur` not filled; `frame` holds the frame). */
  private lastPacked = false;
  private readonly hist: Uint32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly factor: number,
    /** 1 for cells that count, 0 for masked cells. */
    private readonly active: Uint8Array,
    /** Written by `compare`, every row: the changed cells as a bit mask (`cell-bits.ts`). */
    private readonly changed: Uint32Array,
  ) {
    this.gridWidth = Math.floor(width / factor);
    this.gridHeight = Math.floor(height / factor);
    const cells = this.gridWidth * this.gridHeight;
    this.cur = new Int32Array(cells);
    this.rowSums = new Int32Array(this.gridWidth);
    this.bg = new Int32Array(cells);
    this.rowCounts = new Int32Array(this.gridHeight);
    this.hist = new Uint32Array(255 * Q + 1);
    this.masked = active.includes(0);
    const bw = wordsPerRow(this.gridWidth);
    this.rowWords = bw;
    this.activeBits = new Uint32Array(this.gridHeight * bw);
    for (let i = 0; i < cells; i++) {
      const x = i % this.gridWidth;
      const w = Math.floor(i / this.gridWidth) * bw + (x >> 5);
      this.activeBits[w] = (this.activeBits[w] as number) | ((active[i] as number) << (x & 31));
    }
    // The packed pass steps four cells (eight pixels) at a time.
    const packed = factor === 2 && width % 8 === 0 && endianness() === 'LE';
    this.frame = packed ? new Uint8Array(width * height) : null;
    this.words = this.frame ? new Uint32Array(this.frame.buffer) : null;
  }

  /** Makes the frame last passed to `load` the whole background. */
  restart(): void {
    const { cur, bg } = this;
    for (let i = 0; i < cur.length; i++) bg[i] = (cur[i] as number) << BG_SHIFT;
  }

  /** Box-averages a frame into `cur` (no comparison), reading the input row by row. */
  load(gray: Uint8Array): void {
    const { cur, rowSums, factor: f, width, gridWidth: gw, gridHeight: gh } = this;
    if (f === 2) {
      // The sum of 4 pixels is already in quarter levels.
      for (let y = 0; y < gh; y++) {
        let p = 2 * y * width;
        let q = p + width;
        for (let i = y * gw, end = i + gw; i < end; i++, p += 2, q += 2)
          cur[i] =
            (gray[p] as number) + (gray[p + 1] as number) + (gray[q] as number) + (gray[q + 1] as number);
      }
      return;
    }
    const mul = Math.round((Q * 65_536) / (f * f));
    for (let y = 0; y < gh; y++) {
      rowSums.fill(0);
      for (let r = 0; r < f; r++) {
        let p = (y * f + r) * width;
        for (let x = 0; x < gw; x++) {
          let sum = 0;
          for (const end = p + f; p < end; p++) sum += gray[p] as number;
          rowSums[x] = (rowSums[x] as number) + sum;
        }
      }
      const o = y * gw;
      for (let x = 0; x < gw; x++) cur[o + x] = ((rowSums[x] as number) * mul + 32_768) >> 16;
    }
  }

  /**
   * Loads `gray`, marks cells differing from the background by more than `threshold` quarter
   * levels, and moves the background toward the frame by `weight`/65536 (STEADY_WEIGHT: 1/64,
   * and half that on changed cells).
   */
  compare(gray: Uint8Array, threshold: number, weight: number): void {
    this.lastPacked = this.words !== null && weight === STEADY_WEIGHT;
    if (this.lastPacked) {
      this.comparePacked(gray, threshold);
      return;
    }
    this.load(gray);
    const { cur, bg, active, changed, gridWidth: gw, gridHeight: gh } = this;
    // Changed cells learn at half the steady rate, so traffic on one path leaves no standing trail.
    const slower = weight === STEADY_WEIGHT ? 1 : 0;
    let word = 0;
    for (let y = 0; y < gh; y++) {
      let rowChanged = 0;
      let bits = 0;
      for (let x = 0, i = y * gw; x < gw; x++, i++) {
        const v = cur[i] as number;
        const b = bg[i] as number;
        const d = v - ((b + BG_ROUND) >> BG_SHIFT);
        const sign = d >> 31;
        const ad = (d ^ sign) - sign;
        const over = (threshold - ad) >>> 31;
        const a = active[i] as number;
        bg[i] = b + ((((v << BG_SHIFT) - b) * weight + 32_768) >> (16 + (over & slower)));
        bits |= (over & a) << (x & 31);
        rowChanged += over & a;
        if ((x & 31) === 31 || x === gw - 1) {
          changed[word++] = bits;
          bits = 0;
        }
      }
      this.rowCounts[y] = rowChanged;
    }
    this.finish();
  }

  /**
   * The steady-state pass for 2×2 cells: reads 4 pixels per 32-bit load and sums pixel pairs
   * in two 16-bit lanes at once, then the same difference and threshold; the background moves
   * 1/64 toward the frame, 1/128 where the cell changed. Four cells per step (two words of
   * each pixel row; hence widths that are a multiple of 8), their changed bits gathered in a
   * register and stored a word at a time: about 15 % faster than two cells per step.
   * One flat loop with a row counter: V8 compiles it markedly faster than nested loops. `cur`
   * is not written (`load` does that when a restart needs it).
   */
  private comparePacked(gray: Uint8Array, threshold: number): void {
    const { bg, changed, rowCounts, gridWidth: gw } = this;
    const words = this.words as Uint32Array;
    (this.frame as Uint8Array).set(gray);
    const rowWords = this.width >> 2;
    const cells = gw * this.gridHeight;
    let rowChanged = 0;
    let bits = 0;
    let word = 0;
    let p = 0;
    let x = 0;
    let y = 0;
    for (let i = 0; i < cells; i += 4) {
      const a = words[p] as number;
      const c = words[p + rowWords] as number;
      const s = (a & 0xff00ff) + ((a >>> 8) & 0xff00ff) + (c & 0xff00ff) + ((c >>> 8) & 0xff00ff);
      const a2 = words[p + 1] as number;
      const c2 = words[p + rowWords + 1] as number;
      const t = (a2 & 0xff00ff) + ((a2 >>> 8) & 0xff00ff) + (c2 & 0xff00ff) + ((c2 >>> 8) & 0xff00ff);

      const v0 = s & 0xffff;
      const b0 = bg[i] as number;
      const d0 = v0 - ((b0 + BG_ROUND) >> BG_SHIFT);
      const s0 = d0 >> 31;
      const over0 = (threshold - ((d0 ^ s0) - s0)) >>> 31;
      bg[i] = b0 + (((v0 << BG_SHIFT) - b0 + BG_ROUND) >> (BG_SHIFT + over0));

      const v1 = s >>> 16;
      const b1 = bg[i + 1] as number;
      const d1 = v1 - ((b1 + BG_ROUND) >> BG_SHIFT);
      const s1 = d1 >> 31;
      const over1 = (threshold - ((d1 ^ s1) - s1)) >>> 31;
      bg[i + 1] = b1 + (((v1 << BG_SHIFT) - b1 + BG_ROUND) >> (BG_SHIFT + over1));

      const v2 = t & 0xffff;
      const b2 = bg[i + 2] as number;
      const d2 = v2 - ((b2 + BG_ROUND) >> BG_SHIFT);
      const s2 = d2 >> 31;
      const over2 = (threshold - ((d2 ^ s2) - s2)) >>> 31;
      bg[i + 2] = b2 + (((v2 << BG_SHIFT) - b2 + BG_ROUND) >> (BG_SHIFT + over2));

      const v3 = t >>> 16;
      const b3 = bg[i + 3] as number;
      const d3 = v3 - ((b3 + BG_ROUND) >> BG_SHIFT);
      const s3 = d3 >> 31;
      const over3 = (threshold - ((d3 ^ s3) - s3)) >>> 31;
      bg[i + 3] = b3 + (((v3 << BG_SHIFT) - b3 + BG_ROUND) >> (BG_SHIFT + over3));

      // x is a multiple of 4, so the four bits land in the same word.
      bits |= (over0 | (over1 << 1) | (over2 << 2) | (over3 << 3)) << (x & 31);
      rowChanged += over0 + over1 + over2 + over3;
      p += 2;
      x += 4;
      if ((x & 31) === 0 || x === gw) {
        changed[word++] = bits;
        bits = 0;
      }
      if (x === gw) {
        // Next grid row: skip the second pixel row of this one.
        rowCounts[y++] = rowChanged;
        rowChanged = 0;
        x = 0;
        p += rowWords;
      }
    }
    if (this.masked) this.applyMask();
    this.finish();
  }

  /** Clears changed cells under masks, on the rows that have any (the packed pass ignores masks). */
  private applyMask(): void {
    const { activeBits, changed, rowCounts, rowWords: bw } = this;
    for (let y = 0; y < this.gridHeight; y++) {
      if (rowCounts[y] === 0) continue;
      let rowChanged = 0;
      for (let k = y * bw, end = k + bw; k < end; k++) {
        const on = (changed[k] as number) & (activeBits[k] as number);
        changed[k] = on;
        rowChanged += popcount(on);
      }
      rowCounts[y] = rowChanged;
    }
  }

  private finish(): void {
    let changedCells = 0;
    for (let y = 0; y < this.gridHeight; y++) changedCells += this.rowCounts[y] as number;
    this.changedCells = changedCells;
  }

  /**
   * Median absolute difference between the last compared frame and the background (quarter
   * levels) over the unmasked cells of every NOISE_ROW_STEP-th row, starting at row
   * `phase % NOISE_ROW_STEP`; -1 when none count. A median, unlike a mean, ignores the faint
   * trails moving things leave in the background. Taken after the update, which moved the
   * background 1/64 toward the frame: close enough.
   */
  noiseMedian(phase: number): number {
    const { cur, bg, active, hist, gridWidth: gw, gridHeight: gh } = this;
    let counted = 0;
    for (let y = phase % NOISE_ROW_STEP; y < gh; y += NOISE_ROW_STEP) {
      if (this.lastPacked) this.loadPackedRow(y);
      for (let i = y * gw, end = i + gw; i < end; i++) {
        const on = active[i] as number;
        const d = (cur[i] as number) - (((bg[i] as number) + BG_ROUND) >> BG_SHIFT);
        const sign = d >> 31;
        const ad = (d ^ sign) - sign;
        hist[ad] = (hist[ad] as number) + on;
        counted += on;
      }
    }
    if (counted === 0) return -1;
    const half = counted / 2;
    let seen = 0;
    let median = 0;
    while (median < hist.length - 1) {
      seen += hist[median] as number;
      if (seen >= half) break;
      median++;
    }
    // Interpolate within the bin, so faint noise does not snap to whole quarter levels.
    const inBin = hist[median] as number;
    const value = inBin > 0 ? Math.max(0, median + 0.5 - (seen - half) / inBin) : median;
    hist.fill(0);
    return value;
  }

  /** Fills one row of `cur` from the frame copy of the packed pass. */
  private loadPackedRow(y: number): void {
    const { cur, gridWidth: gw } = this;
    const words = this.words as Uint32Array;
    const rowWords = this.width >> 2;
    let p = 2 * y * rowWords;
    for (let i = y * gw, end = i + gw; i < end; i += 2, p++) {
      const a = words[p] as number;
      const c = words[p + rowWords] as number;
      const s = (a & 0xff00ff) + ((a >>> 8) & 0xff00ff) + (c & 0xff00ff) + ((c >>> 8) & 0xff00ff);
      cur[i] = s & 0xffff;
      cur[i + 1] = s >>> 16;
    }
  }
}
