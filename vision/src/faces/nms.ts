/** Non-max suppression of overlapping face boxes, MediaPipe's weighted flavour: pure. */
import type { FaceBox, Rect } from './types.ts';

/** Intersection over union of two rectangles; 0 when either is empty. */
export function iou(a: Rect, b: Rect): number {
  const ix = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const iy = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Weighted NMS: the best remaining box takes every remaining box overlapping it by more than
 * `iouThreshold` (itself included) and becomes their score-weighted mean (corners and
 * keypoints), keeping the best score. Averaging the anchors that fired on one face steadies
 * the box more than keeping the single best one. Output is sorted by score, best first.
 */
export function weightedNms(boxes: readonly FaceBox[], iouThreshold = 0.3): FaceBox[] {
  let remaining = [...boxes].sort((a, b) => b.score - a.score);
  const out: FaceBox[] = [];
  while (remaining.length > 0) {
    const best = remaining[0] as FaceBox;
    const group: FaceBox[] = [];
    const rest: FaceBox[] = [];
    for (const box of remaining) (box === best || iou(best, box) > iouThreshold ? group : rest).push(box);
    out.push(weightedMean(group, best.score));
    remaining = rest;
  }
  return out;
}

function weightedMean(group: readonly FaceBox[], score: number): FaceBox {
  let total = 0;
  let x0 = 0;
  let y0 = 0;
  let x1 = 0;
  let y1 = 0;
  const points = (group[0]?.keypoints ?? []).map((): [number, number] => [0, 0]);
  for (const b of group) {
    total += b.score;
    x0 += b.x * b.score;
    y0 += b.y * b.score;
    x1 += (b.x + b.width) * b.score;
    y1 += (b.y + b.height) * b.score;
    points.forEach((p, k) => {
      const q = b.keypoints[k];
      if (!q) return;
      p[0] += q[0] * b.score;
      p[1] += q[1] * b.score;
    });
  }
  const keypoints = points.map(([px, py]): [number, number] => [px / total, py / total]);
  return {
    x: x0 / total,
    y: y0 / total,
    width: (x1 - x0) / total,
    height: (y1 - y0) / total,
    score,
    keypoints,
  };
}
