import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastWordMask, popcount, wordsPerRow } from '../src/analysis/motion/cell-bits.ts';
import { REGION_FIELDS, RegionFinder } from '../src/analysis/motion/regions.ts';

/** A seeded generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Region = [area: number, x0: number, y0: number, x1: number, y1: number, zones: number];

/**
 * The regions by the book, one cell at a time: 3×3 dilation, 4-connected components of the
 * dilated cells by flood fill (found in raster order), each with the box, count and zones of
 * its changed cells; kept with at least `minCells` (and a zone, with zones); largest first,
 * ties in raster order, at most `max`.
 */
function reference(
  changed: Uint8Array,
  w: number,
  h: number,
  minCells: number,
  zoneBits: Uint32Array | null,
  max: number,
): Region[] {
  const dilated = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < w && ny < h && changed[ny * w + nx]) dilated[y * w + x] = 1;
        }
  const seen = new Uint8Array(w * h);
  const regions: Region[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!dilated[start] || seen[start]) continue;
    const r: Region = [0, w, h, -1, -1, 0];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % w;
      const y = (i - x) / w;
      if (changed[i]) {
        r[0]++;
        r[1] = Math.min(r[1], x);
        r[2] = Math.min(r[2], y);
        r[3] = Math.max(r[3], x);
        r[4] = Math.max(r[4], y);
        r[5] = (r[5] | (zoneBits?.[i] ?? 0)) >>> 0;
      }
      const next = [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1, y < h - 1 ? i + w : -1];
      for (const n of next)
        if (n >= 0 && dilated[n] && !seen[n]) {
          seen[n] = 1;
          stack.push(n);
        }
    }
    if (r[0] > 0 && r[0] >= minCells && (zoneBits === null || r[5] !== 0)) regions.push(r);
  }
  return regions.sort((a, b) => b[0] - a[0]).slice(0, max);
}

/** Runs the finder on a byte-per-cell mask, packing it as the background model does. */
function find(
  finder: RegionFinder,
  changed: Uint8Array,
  minCells: number,
  zoneBits: Uint32Array | null,
): Region[] {
  const { width: w, height: h, rowWords } = finder;
  const rowCounts = new Int32Array(h);
  finder.changed.fill(0);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const on = changed[y * w + x] as number;
      const k = y * rowWords + (x >> 5);
      finder.changed[k] = (finder.changed[k] as number) | (on << (x & 31));
      rowCounts[y] = (rowCounts[y] as number) + on;
    }
  const count = finder.find(rowCounts, minCells, zoneBits);
  const out: Region[] = [];
  for (let r = 0; r < count; r++) {
    const o = r * REGION_FIELDS;
    out.push(
      [...finder.found.subarray(o, o + REGION_FIELDS)].map((v, i) => (i === 5 ? v >>> 0 : v)) as Region,
    );
  }
  return out;
}

describe('motion regions', () => {
  it('packs cells as bits: words per row, the last word mask, population counts', () => {
    assert.deepEqual([1, 31, 32, 33, 160].map(wordsPerRow), [1, 1, 1, 2, 5]);
    assert.equal(lastWordMask(160), -1);
    assert.equal(lastWordMask(33) >>> 0, 1);
    assert.equal(lastWordMask(5) >>> 0, 0b11111);
    assert.deepEqual([0, 1, 0xff, 0x80000000, 0xffffffff, 0x12345678].map(popcount), [0, 1, 8, 1, 32, 13]);
  });

  it('finds the same regions as a cell-by-cell flood fill, on random masks of many sizes', () => {
    const rand = random(21);
    const sizes = [
      [160, 90],
      [161, 90],
      [33, 7],
      [64, 4],
      [31, 9],
      [1, 5],
      [5, 1],
    ] as const;
    let compared = 0;
    for (const [w, h] of sizes) {
      const finder = new RegionFinder(w, h, 16);
      for (const density of [0.01, 0.05, 0.2, 0.5, 0.9]) {
        for (let round = 0; round < 4; round++) {
          const changed = new Uint8Array(w * h);
          // Blobs as well as scattered cells: some rounds grow clusters around seeds.
          for (let i = 0; i < w * h; i++) changed[i] = rand() < density ? 1 : 0;
          if (round % 2 === 1)
            for (let i = 0; i < w * h; i++)
              if (changed[i] && rand() < 0.5 && i + 1 < w * h) changed[i + 1] = 1;
          const zoneBits = round >= 2 ? new Uint32Array(w * h) : null;
          if (zoneBits)
            for (let i = 0; i < w * h; i++) zoneBits[i] = rand() < 0.3 ? (1 << (i % 32)) >>> 0 : 0;
          const minCells = round === 3 ? 3 : 1;
          assert.deepEqual(
            find(finder, changed, minCells, zoneBits),
            reference(changed, w, h, minCells, zoneBits, 16),
            `${w}x${h}, density ${density}, round ${round}`,
          );
          compared++;
        }
      }
    }
    assert.equal(compared, 7 * 5 * 4);
  });

  it('leaves nothing behind between calls: a busy frame, then a quiet one', () => {
    const finder = new RegionFinder(160, 90, 16);
    const busy = new Uint8Array(160 * 90).fill(1);
    assert.equal(find(finder, busy, 1, null).length, 1);
    const one = new Uint8Array(160 * 90);
    one[45 * 160 + 80] = 1;
    assert.deepEqual(find(finder, one, 1, null), [[1, 80, 45, 80, 45, 0]]);
  });
});
