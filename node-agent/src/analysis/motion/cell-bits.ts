/**
 * The changed-cell mask is one bit per grid cell, 32 cells per word: cell x of row y is bit
 * x & 31 of word y * rowWords + (x >> 5), and the bits past a row's end stay 0. Compared with a
 * byte per cell, the pixel pass stores 32 times fewer values and the dilation and the run scan
 * of `regions.ts` step 32 cells at a time.
 */

/** Words per row of a bit mask `width` cells wide. */
export const wordsPerRow = (width: number) => (width + 31) >>> 5;

/** The valid bits of a row's last word (all of them when the width is a multiple of 32). */
export const lastWordMask = (width: number) => (width & 31 ? (1 << (width & 31)) - 1 : -1);

/** Set bits of a 32-bit word. */
export function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero word. */
export const lowestBit = (v: number) => 31 - Math.clz32(v & -v);

/** Index of the highest set bit of a non-zero word. */
export const highestBit = (v: number) => 31 - Math.clz32(v);
