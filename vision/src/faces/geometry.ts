/**
 * The detector's geometry: where the model's square input lies in the image (letterbox, a
 * region of interest), and boxes mapped back from it to image pixels.
 */
import type { SourceSquare } from './preprocess.ts';
import type { SearchSquare } from './search-plan.ts';
import { type FaceBox, FaceDetectorError, type I420Image, type Rect } from './types.ts';

/** `r` grown by `by` of its width and height on each side. */
export function grow(r: Rect, by: number): Rect {
  const dx = r.width * by;
  const dy = r.height * by;
  return { x: r.x - dx, y: r.y - dy, width: r.width + 2 * dx, height: r.height + 2 * dy };
}

/** A box reaching within 2 % of a tile edge that is not also the frame's (or region's) edge. */
export function touchesInnerEdge(box: FaceBox, square: SearchSquare): boolean {
  const m = square.size * 0.02;
  const { inner } = square;
  return (
    (inner.left && box.x < square.x + m) ||
    (inner.top && box.y < square.y + m) ||
    (inner.right && box.x + box.width > square.x + square.size - m) ||
    (inner.bottom && box.y + box.height > square.y + square.size - m)
  );
}

/** The whole image centred in a square (the longer side), so faces keep their shape. */
export function letterbox(image: I420Image): SourceSquare {
  const size = Math.max(image.width, image.height);
  return { x: (image.width - size) / 2, y: (image.height - size) / 2, size };
}

/** `roi` checked and clipped to the image; throws FACE_ROI_INVALID when nothing is left. */
export function clipRoi(roi: Rect, image: I420Image): Rect {
  const { x, y, width, height } = roi ?? {};
  if (![x, y, width, height].every(Number.isFinite) || !(width > 0 && height > 0))
    throw new FaceDetectorError('FACE_ROI_INVALID', `roi ${JSON.stringify(roi)} is not a rectangle`);
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(image.width, x + width);
  const y1 = Math.min(image.height, y + height);
  if (x1 <= x0 || y1 <= y0)
    throw new FaceDetectorError(
      'FACE_ROI_INVALID',
      `roi ${JSON.stringify(roi)} lies outside the ${image.width}x${image.height} image`,
    );
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** A box normalised to the model input, mapped to image pixels through the sampled square. */
export function toImage(f: FaceBox, square: SourceSquare): FaceBox {
  const s = square.size;
  return {
    x: square.x + f.x * s,
    y: square.y + f.y * s,
    width: f.width * s,
    height: f.height * s,
    score: f.score,
    keypoints: f.keypoints.map(([kx, ky]): [number, number] => [square.x + kx * s, square.y + ky * s]),
  };
}
