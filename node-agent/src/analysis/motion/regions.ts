/**
 * Changed cells of the working grid to regions: a 3×3 dilation (separable) joins the pieces
 * of one moving thing, then 4-connected components of the dilated cells are collected as runs
 * per row joined with union-find. A region's box and area count only the cells that really
 * changed, so the dilation glues pieces together without inflating them. Cells are bits
 * (`cell-bits.ts`): the dilation is shifts and ORs on whole words, a run's ends are found with
 * bit scans and its changed cells counted with a population count, 32 cells per step. Work is
 * limited to the rows that hold changed cells (and their neighbours); every buffer is
 * allocated once.
 */
import { highestBit, lastWordMask, lowestBit, popcount, wordsPerRow } from './cell-bits.ts';

/** Per found region: area (changed cells), x0, y0, x1, y1 (inclusive, grid cells), zone bits. */
export const REGION_FIELDS = 6;

export class RegionFinder {
  /** Words per grid row of the bit masks. */
  readonly rowWords: number;
  /** Written by the caller each frame, every row: the changed cells, one bit each (`cell-bits.ts`). */
  readonly changed: Uint32Array;
  /** Stats of the regions found by the last `find`, largest first, REGION_FIELDS each. */
  readonly found: Int32Array;
  /** Horizontally spread rows, row y at y + 1; one zero row above and below, so the vertical pass needs no edge tests. */
  private readonly spread: Uint32Array;
  /** Dilated cells; only the rows near a change are written, and only those are read. */
  private readonly dilated: Uint32Array;
  private readonly lastMask: number;
  /** Runs of dilated cells in one row: extent, union-find parent, and the changed cells' figures. */
  private readonly runStart: Int32Array;
  private readonly runEnd: Int32Array;
  private readonly runParent: Int32Array;
  private readonly runArea: Int32Array;
  private readonly runX0: Int32Array;
  private readonly runX1: Int32Array;
  private readonly runY0: Int32Array;
  private readonly runY1: Int32Array;
  private readonly runZones: Uint32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly maxRegions: number,
  ) {
    const bw = wordsPerRow(width);
    this.rowWords = bw;
    this.lastMask = lastWordMask(width);
    this.changed = new Uint32Array(height * bw);
    this.found = new Int32Array(maxRegions * REGION_FIELDS);
    this.spread = new Uint32Array((height + 2) * bw);
    this.dilated = new Uint32Array(height * bw);
    // At most one run per two cells of a row (a run and a gap), plus one.
    const maxRuns = height * (Math.ceil(width / 2) + 1);
    this.runStart = new Int32Array(maxRuns);
    this.runEnd = new Int32Array(maxRuns);
    this.runParent = new Int32Array(maxRuns);
    this.runArea = new Int32Array(maxRuns);
    this.runX0 = new Int32Array(maxRuns);
    this.runX1 = new Int32Array(maxRuns);
    this.runY0 = new Int32Array(maxRuns);
    this.runY1 = new Int32Array(maxRuns);
    this.runZones = new Uint32Array(maxRuns);
  }

  /**
   * Finds the regions with at least `minCells` changed cells, given the changed cells per row;
   * with `zoneBits`, only regions with a changed cell in a zone count. Returns how many are in
   * `found` (at most maxRegions, the largest).
   */
  find(rowCounts: Int32Array, minCells: number, zoneBits: Uint32Array | null): number {
    const { width: w, height: h, rowWords: bw, changed, dilated } = this;
    this.dilate(rowCounts);

    // Components by runs: each row's runs of dilated cells are joined (union-find) to the runs
    // of the row above that they touch; a run carries the changed cells inside it. Far fewer
    // steps than visiting cells one by one when much of the frame moves.
    const { runStart, runEnd, runParent, runArea, runX0, runX1, runY0, runY1, runZones } = this;
    let runs = 0;
    let prevFrom = 0;
    let prevTo = 0;
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) {
        prevFrom = prevTo = runs;
        continue;
      }
      const row = y * bw;
      const from = runs;
      let scan = prevFrom;
      let k = 0;
      let word = dilated[row] as number;
      for (;;) {
        // The next run starts at the lowest set bit left; bits already taken are cleared.
        while (word === 0 && ++k < bw) word = dilated[row + k] as number;
        if (word === 0) break;
        const start = (k << 5) + lowestBit(word);
        // It ends before the first clear bit after its start, in this word or a later one.
        let holes = ~word & (-1 << (start & 31));
        while (holes === 0 && ++k < bw) {
          word = dilated[row + k] as number;
          holes = ~word;
        }
        let end: number;
        if (holes === 0) {
          end = w - 1;
          word = 0;
        } else {
          const hole = lowestBit(holes);
          end = (k << 5) + hole - 1;
          word &= -1 << hole;
        }

        // The changed cells inside the run.
        let area = 0;
        let cx0 = w;
        let cx1 = -1;
        let zones = 0;
        const k1 = end >> 5;
        for (let j = start >> 5; j <= k1; j++) {
          let m = changed[row + j] as number;
          if (j === start >> 5) m &= -1 << (start & 31);
          if (j === k1) m &= -1 >>> (31 - (end & 31));
          if (m === 0) continue;
          area += popcount(m);
          if (cx1 < 0) cx0 = (j << 5) + lowestBit(m);
          cx1 = (j << 5) + highestBit(m);
          if (zoneBits !== null)
            for (let b = m, cell = y * w + (j << 5); b !== 0; b &= b - 1)
              zones |= zoneBits[cell + lowestBit(b)] as number;
        }

        const r = runs++;
        runParent[r] = r;
        runArea[r] = area;
        runX0[r] = cx0;
        runX1[r] = cx1;
        runY0[r] = area > 0 ? y : h;
        runY1[r] = area > 0 ? y : -1;
        runZones[r] = zones;
        // Runs of the row above that overlap [start, end] (4-connected); both lists are sorted.
        while (scan < prevTo && (runEnd[scan] as number) < start) scan++;
        for (let q = scan; q < prevTo && (runStart[q] as number) <= end; q++) this.union(q, r);
        runStart[r] = start;
        runEnd[r] = end;
      }
      prevFrom = from;
      prevTo = runs;
    }

    // Roots gather their runs' figures; then each root with enough changed cells is kept.
    for (let r = 0; r < runs; r++) {
      const root = this.rootOf(r);
      if (root === r) continue;
      runArea[root] = (runArea[root] as number) + (runArea[r] as number);
      if ((runX0[r] as number) < (runX0[root] as number)) runX0[root] = runX0[r] as number;
      if ((runX1[r] as number) > (runX1[root] as number)) runX1[root] = runX1[r] as number;
      if ((runY0[r] as number) < (runY0[root] as number)) runY0[root] = runY0[r] as number;
      if ((runY1[r] as number) > (runY1[root] as number)) runY1[root] = runY1[r] as number;
      runZones[root] = (runZones[root] as number) | (runZones[r] as number);
    }
    let count = 0;
    for (let r = 0; r < runs; r++) {
      if (runParent[r] !== r) continue;
      const area = runArea[r] as number;
      const zones = runZones[r] as number;
      if (area === 0 || area < minCells || (zoneBits !== null && zones === 0)) continue;
      count = this.keep(
        count,
        area,
        runX0[r] as number,
        runY0[r] as number,
        runX1[r] as number,
        runY1[r] as number,
        zones,
      );
    }
    return count;
  }

  /** 3×3 dilation of `changed` into `dilated`, 32 cells per step. */
  private dilate(rowCounts: Int32Array): void {
    const { height: h, rowWords: bw, changed, spread, dilated, lastMask } = this;
    // Horizontal pass into `spread` (row y stored at y + 1), only rows with changed cells;
    // the others are zero there (cleared after use below).
    for (let y = 0; y < h; y++) {
      if (rowCounts[y] === 0) continue;
      const src = y * bw;
      const dst = (y + 1) * bw;
      let left = 0;
      let mid = changed[src] as number;
      for (let k = 0; k < bw; k++) {
        const right = k + 1 < bw ? (changed[src + k + 1] as number) : 0;
        // Each cell ORs its left neighbour (<< 1, bit 0 from the word before) and its right
        // neighbour (>>> 1, bit 31 from the word after).
        spread[dst + k] = mid | (mid << 1) | (mid >>> 1) | (left >>> 31) | (right << 31);
        left = mid;
        mid = right;
      }
      // No spreading past the row's last cell.
      spread[dst + bw - 1] = (spread[dst + bw - 1] as number) & lastMask;
    }
    // Vertical pass into `dilated`, only rows next to changed ones.
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) continue;
      const m = (y + 1) * bw;
      const out = y * bw;
      for (let k = 0; k < bw; k++)
        dilated[out + k] =
          (spread[m + k - bw] as number) | (spread[m + k] as number) | (spread[m + k + bw] as number);
    }
    for (let y = 0; y < h; y++) if ((rowCounts[y] as number) > 0) spread.fill(0, (y + 1) * bw, (y + 2) * bw);
  }

  private rootOf(r: number): number {
    const parent = this.runParent;
    let root = r;
    while (parent[root] !== root) root = parent[root] as number;
    // Path compression: later lookups from r's chain take one step.
    while (parent[r] !== root) {
      const next = parent[r] as number;
      parent[r] = root;
      r = next;
    }
    return root;
  }

  private union(a: number, b: number): void {
    const ra = this.rootOf(a);
    const rb = this.rootOf(b);
    // The lower index stays root, so a root's figures are gathered after all its members'.
    if (ra < rb) this.runParent[rb] = ra;
    else if (rb < ra) this.runParent[ra] = rb;
  }
  /** Inserts a region into `found`, kept sorted by area (largest first) and capped. */
  private keep(
    count: number,
    area: number,
    x0: number,
    y0: number,
    x1: number,
    y1: number,
    zones: number,
  ): number {
    const { found, maxRegions } = this;
    let at = count;
    while (at > 0 && (found[(at - 1) * REGION_FIELDS] as number) < area) at--;
    if (at >= maxRegions) return count;
    const last = Math.min(count, maxRegions - 1);
    found.copyWithin((at + 1) * REGION_FIELDS, at * REGION_FIELDS, last * REGION_FIELDS);
    const o = at * REGION_FIELDS;
    found[o] = area;
    found[o + 1] = x0;
    found[o + 2] = y0;
    found[o + 3] = x1;
    found[o + 4] = y1;
    found[o + 5] = zones;
    return Math.min(count + 1, maxRegions);
  }
}

/** Row y holds changed cells or touches a row that does (so its dilation may be set). */
function nearChange(rowCounts: Int32Array, y: number, h: number): boolean {
  return (
    (rowCounts[y] as number) > 0 ||
    (y > 0 && (rowCounts[y - 1] as number) > 0) ||
    (y < h - 1 && (rowCounts[y + 1] as number) > 0)
  );
}
