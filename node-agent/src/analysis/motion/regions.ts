/**
 * Changed cells of the working grid to regions: a 3×3 dilation (separable) joins the pieces
 * of one moving thing, then 4-connected components of the dilated cells are collected as runs
 * per row joined with union-find. A region's box and area count only the cells that really changed, so the
 * dilation glues pieces together without inflating them. Work is limited to the rows that
 * hold changed cells (and their neighbours); every buffer is allocated once.
 */

/** Per found region: area (changed cells), x0, y0, x1, y1 (inclusive, grid cells), zone bits. */
export const REGION_FIELDS = 6;

export class RegionFinder {
  /** Written by the caller each frame: 1 where the cell changed, else 0. */
  readonly changed: Uint8Array;
  /** Stats of the regions found by the last `find`, largest first, REGION_FIELDS each. */
  readonly found: Int32Array;
  private readonly spread: Uint8Array;
  /** Dilated cells; all zero between calls. */
  private readonly dilated: Uint8Array;
  /** Word views of the three cell buffers (little-endian: cell 4i + k is byte k of word i). */
  private readonly words: { changed: Uint32Array; spread: Uint32Array; dilated: Uint32Array } | null = null;
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
    this.changed = new Uint8Array(width * height);
    this.found = new Int32Array(maxRegions * REGION_FIELDS);
    // One zero row above and below, so the vertical pass needs no edge tests.
    this.spread = new Uint8Array((height + 2) * width);
    this.dilated = new Uint8Array(height * width);
    // Rows that start on a 4-byte boundary can be dilated four cells per step.
    if (width % 4 === 0)
      this.words = {
        changed: new Uint32Array(this.changed.buffer),
        spread: new Uint32Array(this.spread.buffer),
        dilated: new Uint32Array(this.dilated.buffer),
      };
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
    const { width: w, height: h, changed, dilated } = this;

    if (this.words) this.dilateWords(rowCounts);
    else this.dilateCells(rowCounts);

    // Components by runs: each row's runs of dilated cells are joined (union-find) to the runs
    // of the row above that they touch; a run carries the changed cells inside it. Far fewer
    // steps than visiting cells one by one when much of the frame moves. Rows are cleared as
    // they are read, which leaves `dilated` all zero for next time.
    const { runParent, runArea, runX0, runX1, runY0, runY1, runZones } = this;
    let runs = 0;
    let prevFrom = 0;
    let prevTo = 0;
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) {
        prevFrom = prevTo = runs;
        continue;
      }
      const rowStart = y * w;
      const cells = rowStart;
      const from = runs;
      let scan = prevFrom;
      let x = 0;
      while (x < w) {
        if (dilated[rowStart + x] === 0) {
          // Four empty cells at a time where the row is word-aligned.
          if (this.words && (x & 3) === 0 && x + 4 <= w && this.words.dilated[(rowStart + x) >> 2] === 0)
            x += 4;
          else x++;
          continue;
        }
        const start = x;
        let area = 0;
        let cx0 = w;
        let cx1 = -1;
        let zones = 0;
        while (x < w && dilated[rowStart + x] === 1) {
          if (changed[cells + x] === 1) {
            area++;
            if (x < cx0) cx0 = x;
            cx1 = x;
            if (zoneBits !== null) zones |= zoneBits[cells + x] as number;
          }
          x++;
        }
        const end = x - 1;
        const r = runs++;
        runParent[r] = r;
        runArea[r] = area;
        runX0[r] = cx0;
        runX1[r] = cx1;
        runY0[r] = area > 0 ? y : h;
        runY1[r] = area > 0 ? y : -1;
        runZones[r] = zones;
        // Runs of the row above that overlap [start, end] (4-connected); both lists are sorted.
        while (scan < prevTo && (this.runEnd[scan] as number) < start) scan++;
        for (let q = scan; q < prevTo && (this.runStart[q] as number) <= end; q++) this.union(q, r);
        this.runStart[r] = start;
        this.runEnd[r] = end;
      }
      dilated.fill(0, rowStart, rowStart + w);
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

  /** 3×3 dilation of `changed` into `dilated`, one cell at a time. */
  private dilateCells(rowCounts: Int32Array): void {
    const { width: w, height: h, changed, spread, dilated } = this;
    // Horizontal pass into `spread` (row y stored at y + 1), only rows with changed cells;
    // the others are zero there (cleared after use below).
    for (let y = 0; y < h; y++) {
      if (rowCounts[y] === 0) continue;
      const src = y * w;
      const dst = (y + 1) * w;
      let left = 0;
      let mid = changed[src] as number;
      for (let x = 0; x < w - 1; x++) {
        const right = changed[src + x + 1] as number;
        spread[dst + x] = left | mid | right;
        left = mid;
        mid = right;
      }
      spread[dst + w - 1] = left | mid;
    }
    // Vertical pass into `dilated`, only rows next to changed ones.
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) continue;
      const mid = (y + 1) * w;
      const out = y * w;
      for (let x = 0; x < w; x++)
        dilated[out + x] =
          (spread[mid + x - w] as number) | (spread[mid + x] as number) | (spread[mid + x + w] as number);
    }
    for (let y = 0; y < h; y++) if ((rowCounts[y] as number) > 0) spread.fill(0, (y + 1) * w, (y + 2) * w);
  }

  /** The same dilation four cells per step on the word views (cells hold 0 or 1). */
  private dilateWords(rowCounts: Int32Array): void {
    const words = this.words as NonNullable<typeof this.words>;
    const { changed, spread, dilated } = words;
    const { height: h } = this;
    const wq = this.width >> 2;
    for (let y = 0; y < h; y++) {
      if (rowCounts[y] === 0) continue;
      const src = y * wq;
      const dst = (y + 1) * wq;
      let left = 0;
      let mid = changed[src] as number;
      for (let i = 0; i < wq; i++) {
        const right = i + 1 < wq ? (changed[src + i + 1] as number) : 0;
        // Each cell ORs its left neighbour (<< 8, byte 0 from the word before) and its right
        // neighbour (>>> 8, byte 3 from the word after).
        spread[dst + i] = mid | (mid << 8) | (mid >>> 8) | (left >>> 24) | ((right & 0xff) << 24);
        left = mid;
        mid = right;
      }
    }
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) continue;
      const m = (y + 1) * wq;
      const out = y * wq;
      for (let i = 0; i < wq; i++)
        dilated[out + i] =
          (spread[m + i - wq] as number) | (spread[m + i] as number) | (spread[m + i + wq] as number);
    }
    for (let y = 0; y < h; y++) if ((rowCounts[y] as number) > 0) spread.fill(0, (y + 1) * wq, (y + 2) * wq);
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
