/**
 * Changed cells of the working grid to regions: a 3×3 dilation (separable) joins the pieces
 * of one moving thing, then 4-connected components of the dilated cells are collected with an
 * explicit stack. A region's box and area count only the cells that really changed, so the
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
  /** Dilated cells with a one-cell zero border (stride width + 2); all zero between calls. */
  private readonly dilated: Uint8Array;
  private readonly stack: Int32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly maxRegions: number,
  ) {
    this.changed = new Uint8Array(width * height);
    this.found = new Int32Array(maxRegions * REGION_FIELDS);
    // One zero row above and below, so the vertical pass needs no edge tests.
    this.spread = new Uint8Array((height + 2) * width);
    this.dilated = new Uint8Array((height + 2) * (width + 2));
    this.stack = new Int32Array(width * height);
  }

  /**
   * Finds the regions with at least `minCells` changed cells, given the changed cells per row;
   * with `zoneBits`, only regions with a changed cell in a zone count. Returns how many are in
   * `found` (at most maxRegions, the largest).
   */
  find(rowCounts: Int32Array, minCells: number, zoneBits: Uint32Array | null): number {
    const { width: w, height: h, changed, spread, dilated, stack } = this;
    const pw = w + 2;
    // Row of a padded index by multiplication, cheaper than a division per visited cell.
    const inverse = 1 / pw;

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

    // Vertical pass into `dilated` (padded), only rows next to changed ones.
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) continue;
      const mid = (y + 1) * w;
      const out = (y + 1) * pw + 1;
      for (let x = 0; x < w; x++)
        dilated[out + x] =
          (spread[mid + x - w] as number) | (spread[mid + x] as number) | (spread[mid + x + w] as number);
    }
    for (let y = 0; y < h; y++) if ((rowCounts[y] as number) > 0) spread.fill(0, (y + 1) * w, (y + 2) * w);

    // Components; each visited cell is cleared, which leaves `dilated` all zero for next time.
    let count = 0;
    for (let y = 0; y < h; y++) {
      if (!nearChange(rowCounts, y, h)) continue;
      const rowStart = (y + 1) * pw + 1;
      for (let s = rowStart; s < rowStart + w; s++) {
        if (dilated[s] === 0) continue;
        dilated[s] = 0;
        stack[0] = s;
        let top = 1;
        let area = 0;
        let x0 = w;
        let y0 = h;
        let x1 = -1;
        let y1 = -1;
        let zones = 0;
        while (top > 0) {
          const p = stack[--top] as number;
          const py = (((p + 0.5) * inverse) | 0) - 1;
          const px = p - (py + 1) * pw - 1;
          const cell = py * w + px;
          if (changed[cell] === 1) {
            area++;
            if (px < x0) x0 = px;
            if (px > x1) x1 = px;
            if (py < y0) y0 = py;
            if (py > y1) y1 = py;
            if (zoneBits !== null) zones |= zoneBits[cell] as number;
          }
          if (dilated[p - 1] === 1) {
            dilated[p - 1] = 0;
            stack[top++] = p - 1;
          }
          if (dilated[p + 1] === 1) {
            dilated[p + 1] = 0;
            stack[top++] = p + 1;
          }
          if (dilated[p - pw] === 1) {
            dilated[p - pw] = 0;
            stack[top++] = p - pw;
          }
          if (dilated[p + pw] === 1) {
            dilated[p + pw] = 0;
            stack[top++] = p + pw;
          }
        }
        if (area < minCells || (zoneBits !== null && zones === 0)) continue;
        count = this.keep(count, area, x0, y0, x1, y1, zones);
      }
    }
    return count;
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
