/**
 * From one model head (raw scores and regressors) to face boxes: pure, no model needed.
 * Regressors per anchor: [cx, cy, w, h, then 6 keypoints as (x, y)], in input pixels, the
 * centre and keypoints relative to the anchor centre (anchors have a fixed size of 1).
 */
import type { FaceBox } from './types.ts';

/** Values per anchor in a regressor output: box (4) and six keypoints (12). */
export const REGRESSOR_VALUES = 16;
export const KEYPOINTS = 6;

export interface DecodeOptions {
  /** Model input side in pixels (regressors are in these pixels). */
  inputSize: number;
  /** Lowest score (after the sigmoid) kept. */
  minScore: number;
}

/** The model's score: a logistic of the raw logit, clamped as MediaPipe does. */
export function sigmoidScore(raw: number): number {
  const x = Math.max(-100, Math.min(100, raw));
  return 1 / (1 + Math.exp(-x));
}

/**
 * Decodes the anchors of one head that score at least `minScore`. Boxes and keypoints come out
 * normalised to 0..1 of the model input (x right, y down); `anchors` holds (x, y) centre pairs.
 */
export function decodeHead(
  scores: Float32Array,
  regressors: Float32Array,
  anchors: Float32Array,
  options: DecodeOptions,
): FaceBox[] {
  const count = anchors.length / 2;
  if (scores.length !== count || regressors.length !== count * REGRESSOR_VALUES)
    throw new RangeError(
      `head sizes disagree: ${count} anchors, ${scores.length} scores, ${regressors.length} regressor values`,
    );
  // Compare logits, not probabilities: the sigmoid runs only for the few anchors that pass.
  const p = Math.min(Math.max(options.minScore, 1e-7), 1 - 1e-7);
  const minLogit = Math.log(p / (1 - p));
  const scale = 1 / options.inputSize;
  const boxes: FaceBox[] = [];
  for (let i = 0; i < count; i++) {
    const raw = scores[i] ?? Number.NEGATIVE_INFINITY;
    if (!(raw >= minLogit)) continue;
    const score = sigmoidScore(raw);
    if (score < options.minScore) continue;
    const ax = anchors[2 * i] ?? 0;
    const ay = anchors[2 * i + 1] ?? 0;
    const r = i * REGRESSOR_VALUES;
    const cx = (regressors[r] ?? 0) * scale + ax;
    const cy = (regressors[r + 1] ?? 0) * scale + ay;
    const w = (regressors[r + 2] ?? 0) * scale;
    const h = (regressors[r + 3] ?? 0) * scale;
    if (!(w > 0 && h > 0)) continue;
    const keypoints: Array<[number, number]> = [];
    for (let k = 0; k < KEYPOINTS; k++) {
      const kx = (regressors[r + 4 + 2 * k] ?? 0) * scale + ax;
      const ky = (regressors[r + 5 + 2 * k] ?? 0) * scale + ay;
      keypoints.push([kx, ky]);
    }
    boxes.push({ x: cx - w / 2, y: cy - h / 2, width: w, height: h, score, keypoints });
  }
  return boxes;
}
