/**
 * Where to look for faces so that small ones are not missed: the squares of a frame (or of a
 * region) that the model is run on, as a pyramid. BlazeFace sees a 256×256 input and finds faces
 * from about MIN_INPUT_FACE px wide there; the whole frame letterboxed into it only finds faces
 * wider than `MIN_INPUT_FACE / 256` of the frame's longer side (~60 px in 1080p). Each level below
 * halves the square's side, down to the side at which a `minFaceWidth` face is MIN_INPUT_FACE px
 * in the input, and tiles the region with squares that overlap by more than the largest face the
 * level must find (faces larger than that are the coarser levels' work), so every face lies
 * whole in at least one square. Pure; measured in `bench/face-search.ts`.
 */
import type { Rect } from './types.ts';

/** The side of the model's input. */
const INPUT = 256;
/**
 * The smallest face width, in input pixels, that the pyramid relies on. Measured on the camera-like
 * fixture (`bench/face-search.ts`, 1080p, faces ≥ 24 px): 12 px gave 93.9 % recall in 22 runs per
 * frame, 14 px 95.5 % in 37, 16 px no better; 9 px (roughly the whole frame's reach) 53 %.
 */
export const MIN_INPUT_FACE = 14;
/** The smallest face, in image pixels, a search is made to find (a face a person could recognise). */
export const DEFAULT_MIN_FACE_WIDTH = 24;
/** Each level's square is this fraction of the level above. */
const LEVEL_RATIO = 0.5;
/** Overlap of neighbouring squares, in widths of the largest face the level must find. */
const OVERLAP_FACES = 1.6;

export interface SearchOptions {
  /** Search only this region (faces whose centre lies in it); the whole frame without it. */
  roi?: Rect;
  /** The smallest face width (image pixels) to find; default DEFAULT_MIN_FACE_WIDTH. */
  minFaceWidth?: number;
  /** The smallest face width in model-input pixels the pyramid relies on; default MIN_INPUT_FACE (for measuring). */
  minInputFace?: number;
}

/** A square of image pixels to run the model on; `inner`: which of its edges lie inside the region. */
export interface SearchSquare {
  x: number;
  y: number;
  size: number;
  level: number;
  /** The widest face this square is searched for (image pixels); Infinity on level 0. */
  largestFace: number;
  inner: { left: boolean; top: boolean; right: boolean; bottom: boolean };
}

/** Positions of `n` tiles of side `side` spread evenly over [start, start + extent]. */
function spread(start: number, extent: number, side: number, overlap: number): number[] {
  if (extent <= side) return [start + (extent - side) / 2];
  const n = Math.ceil((extent - side) / (side - overlap)) + 1;
  return Array.from({ length: n }, (_, i) => start + (i * (extent - side)) / (n - 1));
}

/**
 * The squares to search `width`×`height` (or `roi` of it) for faces of at least `minFaceWidth`
 * px: level 0, the region letterboxed whole; then tiles at halving sides.
 */
export function searchSquares(width: number, height: number, options: SearchOptions = {}): SearchSquare[] {
  const region = options.roi ?? { x: 0, y: 0, width, height };
  const minFace = options.minFaceWidth ?? DEFAULT_MIN_FACE_WIDTH;
  if (!(minFace > 0)) throw new RangeError(`minFaceWidth must be positive, got ${minFace}`);
  let side = Math.max(region.width, region.height);
  const squares: SearchSquare[] = [
    {
      x: region.x + (region.width - side) / 2,
      y: region.y + (region.height - side) / 2,
      size: side,
      level: 0,
      largestFace: Number.POSITIVE_INFINITY,
      inner: { left: false, top: false, right: false, bottom: false },
    },
  ];
  const minInput = options.minInputFace ?? MIN_INPUT_FACE;
  const floor = (minFace * INPUT) / minInput;
  for (let level = 1; side > floor; level++) {
    // The smallest face the level above finds is the largest this level must find.
    const largest = (minInput * side) / INPUT;
    side = Math.max(side * LEVEL_RATIO, floor);
    const overlap = Math.min(side / 2, largest * OVERLAP_FACES);
    const xs = spread(region.x, region.width, side, overlap);
    const ys = spread(region.y, region.height, side, overlap);
    for (const y of ys)
      for (const x of xs)
        squares.push({
          x,
          y,
          size: side,
          level,
          largestFace: largest,
          inner: {
            left: x > region.x + 0.5,
            top: y > region.y + 0.5,
            right: x + side < region.x + region.width - 0.5,
            bottom: y + side < region.y + region.height - 0.5,
          },
        });
  }
  return squares;
}
