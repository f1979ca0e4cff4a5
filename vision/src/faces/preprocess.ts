/**
 * From a planar YUV 4:2:0 frame straight to the model's input tensor: a square of the frame
 * (which may reach past its edges) resampled bilinearly to N×N, converted to RGB per output
 * pixel and scaled to [-1, 1], NHWC. Only the N×N samples are converted, never the frame.
 */
import { FaceDetectorError, type I420Image } from './types.ts';

/** A square of image pixels: top-left corner and side; parts outside the image are padded black. */
export interface SourceSquare {
  x: number;
  y: number;
  size: number;
}

/** Throws FACE_IMAGE_INVALID unless `image` is a well-formed I420 frame. */
export function assertI420(image: I420Image): void {
  const { width, height, data } = image ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new FaceDetectorError(
      'FACE_IMAGE_INVALID',
      `image size ${width}x${height} is not a positive integer size`,
    );
  if (width % 2 !== 0 || height % 2 !== 0)
    throw new FaceDetectorError(
      'FACE_IMAGE_INVALID',
      `I420 needs an even width and height, got ${width}x${height}`,
    );
  if (!(data instanceof Uint8Array))
    throw new FaceDetectorError('FACE_IMAGE_INVALID', 'image data must be a Uint8Array');
  const expected = width * height * 1.5;
  if (data.length !== expected)
    throw new FaceDetectorError(
      'FACE_IMAGE_INVALID',
      `I420 ${width}x${height} needs ${expected} bytes, got ${data.length}`,
    );
}

// BT.601 limited range (what ffmpeg and most cameras produce for yuv420p), folded with the
// final scaling of 0..255 to -1..1.
const K = 2 / 255;
const KY = 1.164 * K;
const KRV = 1.596 * K;
const KGU = 0.392 * K;
const KGV = 0.813 * K;
const KBU = 2.017 * K;
const PAD = -1;

/** Per output row or column: the two source indices and the weight of the second, for luma and chroma. */
class Taps {
  readonly inside: Uint8Array;
  readonly l0: Int32Array;
  readonly l1: Int32Array;
  readonly lw: Float32Array;
  readonly c0: Int32Array;
  readonly c1: Int32Array;
  readonly cw: Float32Array;

  constructor(n: number) {
    this.inside = new Uint8Array(n);
    this.l0 = new Int32Array(n);
    this.l1 = new Int32Array(n);
    this.lw = new Float32Array(n);
    this.c0 = new Int32Array(n);
    this.c1 = new Int32Array(n);
    this.cw = new Float32Array(n);
  }

  /** Output i of n samples the source at start + (i + 0.5) * step - 0.5 (pixel centres aligned). */
  fill(start: number, step: number, extent: number): void {
    const n = this.inside.length;
    const cExtent = extent / 2;
    for (let i = 0; i < n; i++) {
      const s = start + (i + 0.5) * step - 0.5;
      this.inside[i] = s >= -0.5 && s <= extent - 0.5 ? 1 : 0;
      const ls = Math.min(Math.max(s, 0), extent - 1);
      const l0 = Math.floor(ls);
      this.l0[i] = l0;
      this.l1[i] = Math.min(l0 + 1, extent - 1);
      this.lw[i] = ls - l0;
      // Chroma sits at the centre of each 2×2 luma block (JPEG/MPEG-1 siting); close enough for MPEG-2 siting too.
      const cs = Math.min(Math.max((s + 0.5) / 2 - 0.5, 0), cExtent - 1);
      const c0 = Math.floor(cs);
      this.c0[i] = c0;
      this.c1[i] = Math.min(c0 + 1, cExtent - 1);
      this.cw[i] = cs - c0;
    }
  }
}

/** Resamples squares of I420 frames into one reused NHWC float tensor of side `size`. */
export class I420Sampler {
  private readonly cols: Taps;
  private readonly rows: Taps;

  constructor(readonly size: number) {
    this.cols = new Taps(size);
    this.rows = new Taps(size);
  }

  /** Writes `square` of `image` into `out` (size*size*3 floats, RGB in [-1, 1]). */
  sample(image: I420Image, square: SourceSquare, out: Float32Array): void {
    const { width, height, data } = image;
    const n = this.size;
    if (out.length !== n * n * 3) throw new RangeError(`tensor holds ${out.length} floats, not ${n * n * 3}`);
    const step = square.size / n;
    const cols = this.cols;
    const rows = this.rows;
    cols.fill(square.x, step, width);
    rows.fill(square.y, step, height);
    const cw = width / 2;
    const uBase = width * height;
    const vBase = uBase + cw * (height / 2);
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (!rows.inside[i]) {
        out.fill(PAD, o, o + n * 3);
        o += n * 3;
        continue;
      }
      const yr0 = (rows.l0[i] as number) * width;
      const yr1 = (rows.l1[i] as number) * width;
      const yw = rows.lw[i] as number;
      const cr0 = (rows.c0[i] as number) * cw;
      const cr1 = (rows.c1[i] as number) * cw;
      const cwy = rows.cw[i] as number;
      for (let j = 0; j < n; j++, o += 3) {
        if (!cols.inside[j]) {
          out[o] = PAD;
          out[o + 1] = PAD;
          out[o + 2] = PAD;
          continue;
        }
        const x0 = cols.l0[j] as number;
        const x1 = cols.l1[j] as number;
        const xw = cols.lw[j] as number;
        const top =
          (data[yr0 + x0] as number) + ((data[yr0 + x1] as number) - (data[yr0 + x0] as number)) * xw;
        const bot =
          (data[yr1 + x0] as number) + ((data[yr1 + x1] as number) - (data[yr1 + x0] as number)) * xw;
        const y = top + (bot - top) * yw - 16;
        const u0 = cols.c0[j] as number;
        const u1 = cols.c1[j] as number;
        const uw = cols.cw[j] as number;
        const u = bilerp(data, uBase + cr0, uBase + cr1, u0, u1, uw, cwy) - 128;
        const v = bilerp(data, vBase + cr0, vBase + cr1, u0, u1, uw, cwy) - 128;
        out[o] = clamp1(KY * y + KRV * v - 1);
        out[o + 1] = clamp1(KY * y - KGU * u - KGV * v - 1);
        out[o + 2] = clamp1(KY * y + KBU * u - 1);
      }
    }
  }
}

function bilerp(data: Uint8Array, r0: number, r1: number, c0: number, c1: number, wx: number, wy: number) {
  const a = data[r0 + c0] as number;
  const b = data[r0 + c1] as number;
  const c = data[r1 + c0] as number;
  const d = data[r1 + c1] as number;
  const top = a + (b - a) * wx;
  return top + (c + (d - c) * wx - top) * wy;
}

const clamp1 = (v: number) => Math.max(-1, Math.min(1, v));
