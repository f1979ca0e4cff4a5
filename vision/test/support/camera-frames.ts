/**
 * Camera-like frames with labelled faces, made from the six labelled sample photos
 * (`node-agent/test/fixtures/face-photos.json`): each photo scaled so that its faces come out at
 * a chosen width, pasted at jittered positions on a 1920×1080 (or other) frame, then degraded
 * as a camera would: sensor noise, motion blur, JPEG or H.264 compression. Empty frames are
 * mosaics of the photos' face-free parts (walls, clothes, furniture) under the same treatment.
 *
 * Deterministic (seeded): the same options give the same frames and labels. Frames are made one
 * at a time (a 1080p frame is 3 MB), each with its truth boxes; faces cut by the frame's edge
 * are listed apart (`partial`), as neither required nor false.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { iou } from '../../src/faces/nms.ts';
import type { FaceBox, I420Image, Rect } from '../../src/faces/types.ts';

const repoRoot = new URL('../../../', import.meta.url).pathname;

export type Treatment = 'noise' | 'motion-blur' | 'jpeg' | 'h264';
export const TREATMENTS: readonly Treatment[] = ['noise', 'motion-blur', 'jpeg', 'h264'];

export interface LabelledFrame {
  /** What the frame is: faces of about `faceWidth` px, or none. */
  kind: 'faces' | 'empty';
  faceWidth: number | null;
  treatment: Treatment;
  /** Faces wholly inside the frame, in frame pixels. */
  faces: Rect[];
  /** Faces cut by the frame's edge: not counted either way. */
  partial: Rect[];
  image: I420Image;
}

export interface CameraFrameOptions {
  width?: number;
  height?: number;
  /** Face widths (px in the frame) to make frames for; one frame per width and treatment. */
  faceWidths?: number[];
  treatments?: readonly Treatment[];
  /** Frames with no face, treatments in turn. */
  emptyFrames?: number;
  seed?: number;
}

export const DEFAULT_FACE_WIDTHS = [20, 24, 28, 32, 40, 48, 64, 96, 160, 240];

interface Photo {
  file: string;
  width: number;
  height: number;
  faces: Rect[];
}

interface PhotoFixture {
  source: { dir: string };
  photos: Photo[];
}

/** mulberry32: a small seeded generator, enough for placement and noise. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ffmpeg(args: string[], input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ffmpeg',
      ['-v', 'error', '-nostdin', ...args],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`ffmpeg ${args.join(' ')}: ${stderr.toString().trim() || err.message}`))
          : resolve(stdout),
    );
    if (input) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);

/** A picture decoded once at full size, as I420 (BT.601 limited range, as cameras send). */
async function decode(path: string, width: number, height: number): Promise<I420Image> {
  const w = width - (width % 2);
  const h = height - (height % 2);
  const out = await ffmpeg([
    ...['-i', path, '-frames:v', '1'],
    ...['-vf', `crop=${w}:${h}:0:0,scale=out_range=tv:out_color_matrix=bt601`],
    ...['-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'],
  ]);
  if (out.length !== w * h * 1.5) throw new Error(`ffmpeg gave ${out.length} bytes for ${w}x${h}`);
  return { width: w, height: h, data: new Uint8Array(out.buffer, out.byteOffset, out.length) };
}

/** One plane's part `from` resized to dw×dh by area averaging (a camera's optics and sensor do no better). */
function resizePlane(
  src: Uint8Array,
  sBase: number,
  sStride: number,
  from: Rect,
  dst: Uint8Array,
  dBase: number,
  dw: number,
  dh: number,
): void {
  const fx = from.width / dw;
  const fy = from.height / dh;
  for (let y = 0; y < dh; y++) {
    const y0 = from.y + Math.floor(y * fy);
    const y1 = Math.max(y0 + 1, from.y + Math.floor((y + 1) * fy));
    for (let x = 0; x < dw; x++) {
      const x0 = from.x + Math.floor(x * fx);
      const x1 = Math.max(x0 + 1, from.x + Math.floor((x + 1) * fx));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++) {
        const row = sBase + yy * sStride;
        for (let xx = x0; xx < x1; xx++) sum += src[row + xx] as number;
      }
      dst[dBase + y * dw + x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
}

/** `from` (even corners and size; the whole image without it) of `src` resized to w×h (even). */
function resize(src: I420Image, w: number, h: number, from?: Rect): I420Image {
  const r = from ?? { x: 0, y: 0, width: src.width, height: src.height };
  const out = blank(w, h);
  const half = { x: r.x / 2, y: r.y / 2, width: r.width / 2, height: r.height / 2 };
  const sy = src.width * src.height;
  const dy = w * h;
  resizePlane(src.data, 0, src.width, r, out.data, 0, w, h);
  resizePlane(src.data, sy, src.width / 2, half, out.data, dy, w / 2, h / 2);
  resizePlane(src.data, sy * 1.25, src.width / 2, half, out.data, dy * 1.25, w / 2, h / 2);
  return out;
}

function blank(width: number, height: number): I420Image {
  const data = new Uint8Array(width * height * 1.5);
  data.fill(16, 0, width * height);
  data.fill(128, width * height);
  return { width, height, data };
}

/** Copies `src` (or its part `from`) onto `dst` at even (x, y); clipped to `dst`. */
function paste(dst: I420Image, src: I420Image, x: number, y: number, from?: Rect): void {
  const sx0 = from?.x ?? 0;
  const sy0 = from?.y ?? 0;
  const sw = from?.width ?? src.width;
  const sh = from?.height ?? src.height;
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(dst.width, x + sw);
  const y1 = Math.min(dst.height, y + sh);
  if (x1 <= x0 || y1 <= y0) return;
  for (let row = y0; row < y1; row++) {
    const s = (sy0 + row - y) * src.width + sx0 + (x0 - x);
    dst.data.set(src.data.subarray(s, s + (x1 - x0)), row * dst.width + x0);
  }
  const planes = [
    [dst.width * dst.height, src.width * src.height],
    [dst.width * dst.height * 1.25, src.width * src.height * 1.25],
  ] as const;
  for (const [dBase, sBase] of planes)
    for (let row = y0 / 2; row < y1 / 2; row++) {
      const s = sBase + (sy0 / 2 + row - y / 2) * (src.width / 2) + sx0 / 2 + (x0 - x) / 2;
      dst.data.set(src.data.subarray(s, s + (x1 - x0) / 2), dBase + row * (dst.width / 2) + x0 / 2);
    }
}

/** Gaussian-ish sensor noise on luma (sum of uniforms), sigma about `sigma` levels. */
function addNoise(img: I420Image, sigma: number, rand: () => number): void {
  const n = img.width * img.height;
  const k = sigma * 2; // (sum of 3 uniforms - 1.5) has sigma 0.5
  for (let i = 0; i < n; i++) {
    const v = (img.data[i] as number) + (rand() + rand() + rand() - 1.5) * k;
    img.data[i] = Math.max(0, Math.min(255, v));
  }
}

/** Horizontal motion blur over `length` pixels, on every plane (a subject crossing the frame). */
function motionBlur(img: I420Image, length: number): void {
  const blurPlane = (base: number, w: number, h: number, len: number) => {
    const row = new Uint8Array(w);
    const half = Math.floor(len / 2);
    for (let y = 0; y < h; y++) {
      const off = base + y * w;
      row.set(img.data.subarray(off, off + w));
      for (let x = 0; x < w; x++) {
        let sum = 0;
        let count = 0;
        for (let d = -half; d <= half; d++) {
          const xi = x + d;
          if (xi < 0 || xi >= w) continue;
          sum += row[xi] as number;
          count++;
        }
        img.data[off + x] = sum / count;
      }
    }
  };
  const { width: w, height: h } = img;
  blurPlane(0, w, h, length);
  blurPlane(w * h, w / 2, h / 2, Math.max(1, Math.round(length / 2)) | 1);
  blurPlane(w * h * 1.25, w / 2, h / 2, Math.max(1, Math.round(length / 2)) | 1);
}

/** Through an encoder and back: JPEG at a camera snapshot's quality, or an H.264 frame at a recording's. */
async function compress(img: I420Image, how: 'jpeg' | 'h264'): Promise<void> {
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${img.width}x${img.height}`, '-i', '-'];
  const encoded =
    how === 'jpeg'
      ? await ffmpeg([...raw, '-c:v', 'mjpeg', '-q:v', '8', '-f', 'mjpeg', '-'], img.data)
      : await ffmpeg(
          [
            ...raw,
            '-c:v',
            'libx264',
            '-preset',
            'veryfast',
            '-crf',
            '30',
            '-threads',
            '1',
            '-f',
            'h264',
            '-',
          ],
          img.data,
        );
  const format = how === 'jpeg' ? 'mjpeg' : 'h264';
  const back = await ffmpeg(['-f', format, '-i', '-', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], encoded);
  if (back.length !== img.data.length) throw new Error(`${how} round trip gave ${back.length} bytes`);
  img.data.set(back);
}

/** Regions of a photo holding no face (faces grown by half their size), for empty frames. */
function faceFree(photo: Photo, wanted: number, rand: () => number): Rect | null {
  const size = Math.min(wanted, Math.min(photo.width, photo.height) - 2) & ~1;
  for (let tries = 0; tries < 50; tries++) {
    const r = {
      x: Math.floor(rand() * (photo.width - size)) & ~1,
      y: Math.floor(rand() * (photo.height - size)) & ~1,
      width: size,
      height: size,
    };
    const clear = photo.faces.every(
      (f) =>
        r.x + r.width < f.x - f.width / 2 ||
        r.x > f.x + f.width * 1.5 ||
        r.y + r.height < f.y - f.height / 2 ||
        r.y > f.y + f.height * 1.5,
    );
    if (clear) return r;
  }
  return null;
}

export async function loadPhotos(): Promise<{ dir: string; photos: Photo[] }> {
  const fixture = JSON.parse(
    await readFile(join(repoRoot, 'node-agent/test/fixtures/face-photos.json'), 'utf8'),
  ) as PhotoFixture;
  return { dir: join(repoRoot, fixture.source.dir), photos: fixture.photos };
}

/** The frames, made one at a time. */
export async function* cameraFrames(options: CameraFrameOptions = {}): AsyncGenerator<LabelledFrame> {
  const width = options.width ?? 1920;
  const height = options.height ?? 1080;
  const faceWidths = options.faceWidths ?? DEFAULT_FACE_WIDTHS;
  const treatments = options.treatments ?? TREATMENTS;
  const emptyFrames = options.emptyFrames ?? 12;
  const rand = rng(options.seed ?? 17);
  const { dir, photos } = await loadPhotos();
  const decoded = await Promise.all(photos.map((p) => decode(join(dir, p.file), p.width, p.height)));
  // The background: a face-free part of a photo, blown up (soft, like a wall out of focus).
  const backdrop = (): I420Image => {
    const i = Math.floor(rand() * photos.length);
    const part = faceFree(photos[i] as Photo, 240, rand);
    return part ? resize(decoded[i] as I420Image, width, height, part) : blank(width, height);
  };
  const treat = async (img: I420Image, treatment: Treatment) => {
    addNoise(img, 3, rand);
    if (treatment === 'noise') addNoise(img, 5, rand);
    if (treatment === 'motion-blur') motionBlur(img, 7);
    if (treatment === 'jpeg' || treatment === 'h264') await compress(img, treatment);
  };

  for (const faceWidth of faceWidths)
    for (const treatment of treatments) {
      const img = backdrop();
      const faces: Rect[] = [];
      const partial: Rect[] = [];
      // Photos in a jittered grid, each scaled so that its mean face is about faceWidth wide
      // (its faces vary around that, as the photos' faces do: 127–233 px at full size).
      const scales = photos.map(
        (p) => faceWidth / (p.faces.reduce((s, f) => s + f.width, 0) / p.faces.length),
      );
      const cellW = Math.max(...photos.map((p, i) => p.width * (scales[i] as number))) * 1.05;
      const cellH = Math.max(...photos.map((p, i) => p.height * (scales[i] as number))) * 1.05;
      const cols = Math.max(1, Math.floor(width / cellW));
      const rows = Math.max(1, Math.floor(height / cellH));
      const start = Math.floor(rand() * photos.length);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const i = (start + r * cols + c) % photos.length;
          const photo = photos[i] as Photo;
          const s = (scales[i] as number) * (0.92 + rand() * 0.16);
          const w = even(photo.width * s);
          const h = even(photo.height * s);
          // One photo larger than the frame: placed at random, cut by the frame's edges.
          const x =
            cols === 1 && w > width
              ? -even(rand() * (w - width))
              : even(c * (width / cols) + rand() * Math.max(0, width / cols - w));
          const y =
            rows === 1 && h > height
              ? -even(rand() * (h - height))
              : even(r * (height / rows) + rand() * Math.max(0, height / rows - h));
          paste(img, resize(decoded[i] as I420Image, w, h), x, y);
          for (const f of photo.faces) {
            const box = {
              x: x + f.x * (w / photo.width),
              y: y + f.y * (h / photo.height),
              width: f.width * (w / photo.width),
              height: f.height * (h / photo.height),
            };
            const inside =
              box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height;
            const visible =
              box.x + box.width > 0 && box.y + box.height > 0 && box.x < width && box.y < height;
            if (inside) faces.push(box);
            else if (visible) partial.push(box);
          }
        }
      await treat(img, treatment);
      yield { kind: 'faces', faceWidth, treatment, faces, partial, image: img };
    }

  for (let e = 0; e < emptyFrames; e++) {
    const treatment = treatments[e % treatments.length] as Treatment;
    const img = backdrop();
    // A mosaic of face-free parts at several sizes.
    const tile = [96, 160, 240, 360][e % 4] as number;
    for (let y = 0; y + tile <= height; y += tile + 8)
      for (let x = 0; x + tile <= width; x += tile + 8) {
        const i = Math.floor(rand() * photos.length);
        const part = faceFree(photos[i] as Photo, even(tile * (1 + rand() * 3)), rand);
        if (part) paste(img, resize(decoded[i] as I420Image, tile, tile, part), even(x), even(y));
      }
    await treat(img, treatment);
    yield { kind: 'empty', faceWidth: null, treatment, faces: [], partial: [], image: img };
  }
}

/**
 * Found boxes against a frame's labels, greedily: each labelled face takes the best free box at
 * IoU ≥ 0.3. `falseBoxes`: boxes left over, not on a face cut by the frame's edge.
 */
export function matchFaces(frame: Pick<LabelledFrame, 'faces' | 'partial'>, found: readonly FaceBox[]) {
  const free = new Set(found);
  const hit = frame.faces.map((face) => {
    let best: FaceBox | null = null;
    let bestIou = 0.3;
    for (const f of free) {
      const v = iou(face, f);
      if (v >= bestIou) {
        best = f;
        bestIou = v;
      }
    }
    if (best) free.delete(best);
    return best !== null;
  });
  const falseBoxes = [...free].filter((f) => !frame.partial.some((p) => iou(p, f) > 0.1)).length;
  return { hit, falseBoxes };
}

export interface WalkOptions {
  width?: number;
  height?: number;
  frames?: number;
  /** Face widths (px) of the people walking through, one person each. */
  faceWidths?: number[];
  seed?: number;
}

/**
 * A scene in which people walk through the frame at several distances: each a part of a sample
 * photo around one labelled face (head and shoulders), scaled to its face width, crossing the
 * frame at its own speed and height over a still background, with sensor noise. Yields each frame
 * with the faces wholly inside it.
 */
export async function* walkingScene(
  options: WalkOptions = {},
): AsyncGenerator<{ image: I420Image; faces: Rect[] }> {
  const width = options.width ?? 1280;
  const height = options.height ?? 720;
  const count = options.frames ?? 45;
  const rand = rng(options.seed ?? 5);
  const { dir, photos } = await loadPhotos();
  const decoded = await Promise.all(photos.map((p) => decode(join(dir, p.file), p.width, p.height)));
  const back = (() => {
    const i = Math.floor(rand() * photos.length);
    const part = faceFree(photos[i] as Photo, 240, rand);
    return part ? resize(decoded[i] as I420Image, width, height, part) : blank(width, height);
  })();
  const people = (options.faceWidths ?? [28, 40, 64, 110]).map((faceWidth, n) => {
    const i = (n * 2 + 1) % photos.length;
    const photo = photos[i] as Photo;
    const face = photo.faces[n % photo.faces.length] as Rect;
    // Head and shoulders: the face with 60 % of its width either side, a face above and two below.
    const cut = {
      x: Math.max(0, Math.round(face.x - face.width * 0.6) & ~1),
      y: Math.max(0, Math.round(face.y - face.height) & ~1),
      width: 0,
      height: 0,
    };
    cut.width = Math.min(photo.width, Math.round(face.width * 2.2)) & ~1;
    cut.height = Math.min(photo.height - cut.y, Math.round(face.height * 3.5)) & ~1;
    const s = faceWidth / face.width;
    const sprite = resize(decoded[i] as I420Image, even(cut.width * s), even(cut.height * s), cut);
    const faceInSprite = {
      x: (face.x - cut.x) * s,
      y: (face.y - cut.y) * s,
      width: face.width * s,
      height: face.height * s,
    };
    const speed = (4 + rand() * 10) * (n % 2 === 0 ? 1 : -1);
    const span = width + sprite.width;
    // Each starts inside the frame, and walks out (and in again from the other side).
    const start = sprite.width + rand() * Math.max(1, width - sprite.width);
    const y = even(rand() * Math.max(0, height - sprite.height));
    return { sprite, faceInSprite, speed, span, start, y };
  });
  for (let f = 0; f < count; f++) {
    const img: I420Image = { width, height, data: new Uint8Array(back.data) };
    const faces: Rect[] = [];
    const placed: { sprite: Rect; face: Rect }[] = [];
    for (const p of people) {
      const travelled = (((p.start + p.speed * f) % p.span) + p.span) % p.span;
      const x = even(travelled - p.sprite.width);
      paste(img, p.sprite, x, p.y);
      placed.push({
        sprite: { x, y: p.y, width: p.sprite.width, height: p.sprite.height },
        face: { ...p.faceInSprite, x: x + p.faceInSprite.x, y: p.y + p.faceInSprite.y },
      });
    }
    // A face counts when wholly inside the frame and not covered by a walker pasted after it.
    placed.forEach(({ face }, i) => {
      const inside =
        face.x >= 0 && face.y >= 0 && face.x + face.width <= width && face.y + face.height <= height;
      const cx = face.x + face.width / 2;
      const cy = face.y + face.height / 2;
      const covered = placed
        .slice(i + 1)
        .some(({ sprite: s }) => cx >= s.x && cx < s.x + s.width && cy >= s.y && cy < s.y + s.height);
      if (inside && !covered) faces.push(face);
    });
    addNoise(img, 3, rand);
    yield { image: img, faces };
  }
}
