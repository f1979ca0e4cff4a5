/**
 * An export with every face blurred: one ffmpeg decodes the range to YUV 4:2:0 frames, each
 * frame is searched for faces at every scale they appear at (`FaceDetector.search`: a tiled
 * pyramid down to faces of `minFaceWidth` px), and a second ffmpeg encodes the frames again
 * (H.264) into the MP4. Every frame is searched, and a face found in one frame is blurred in the
 * HOLD_FRAMES frames before and after it too, its box grown with the distance (a face the
 * detector misses in one frame of a walk would otherwise be shown in that frame): frames leave
 * HOLD_FRAMES behind the search. Audio is left out (it can identify people too).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import type { Polygon } from '@cctv/protocol';
import { blurRegions, type I420Image, MovingRegions, type Rect } from '@cctv/vision';
import type { FaceDetector, SearchOptions } from '@cctv/vision/faces';

/** Frames before and after a sighting in which the face stays blurred (0.2 s at 15 fps). */
export const HOLD_FRAMES = 3;
/** A held box grows by this fraction of its size per side, per frame of distance (a walk's step). */
const HOLD_GROWTH = 0.2;

/**
 * How thoroughly an export is searched: more than snapshots and events (faces from 24 px, 14
 * input px), since an export is made once and shown to others. Measured in
 * `master/test/blurred-export.test.ts` (walkers' faces of 28 px were missed in runs of frames at
 * the default) and `bench/export-blur.ts` (the cost).
 */
export const EXPORT_SEARCH = { minFaceWidth: 20, minInputFace: 16 } as const;

/** An export's mosaic: 3 blocks across a face (snapshots: 5), nothing face-like left in it. */
const EXPORT_BLOCKS = 3;

export interface BlurredExportOptions {
  /** How frames are searched; EXPORT_SEARCH without it (the benchmark compares others). */
  search?: SearchOptions;
  /** The gateway's VOD playlist of the range. */
  url: string;
  out: string;
  ffmpeg: string;
  /** Faces: the detector (loaded on first use); null to blur no faces (motion only). */
  detector: (() => Promise<FaceDetector>) | null;
  /** Blur whatever moves too (`MovingRegions`: people, not only their faces). */
  motion?: boolean;
  /** Only these polygons (0..1 points) stay visible: the rest of every frame is blurred. */
  keepVisible?: Polygon[] | null;
  /** Expected frames, for progress. */
  onProgress: (framesDone: number, fps: number) => void;
  /** The processes, so that stop() can kill them. */
  onChild: (child: ChildProcess) => void;
}

interface VideoInfo {
  width: number;
  height: number;
  fps: number;
}

async function probe(url: string): Promise<VideoInfo> {
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      'ffprobe',
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=width,height,avg_frame_rate,r_frame_rate',
        '-of',
        'json',
        url,
      ],
      { timeout: 30_000 },
      (err, out, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve(out)),
    ),
  );
  const s = (
    JSON.parse(stdout) as {
      streams?: { width?: number; height?: number; avg_frame_rate?: string; r_frame_rate?: string }[];
    }
  ).streams?.[0];
  if (!s?.width || !s.height) throw new Error('the recording has no video stream');
  const rate = (r?: string) => {
    const [n, d] = (r ?? '').split('/').map(Number);
    return n && d ? n / d : 0;
  };
  const fps = rate(s.avg_frame_rate) || rate(s.r_frame_rate) || 15;
  return { width: s.width, height: s.height, fps: Math.min(60, fps) };
}

/** Runs the pipeline; resolves when the MP4 is complete, rejects with ffmpeg's last words. */
export async function exportBlurred(o: BlurredExportOptions): Promise<{ frames: number; faces: number }> {
  const info = await probe(o.url);
  // Even sizes for 4:2:0; the decoder scales (by a pixel at most) to them.
  const width = info.width - (info.width % 2);
  const height = info.height - (info.height % 2);
  const frameBytes = (width * height * 3) / 2;
  if (!o.detector && !o.motion && !o.keepVisible)
    throw new Error('nothing to blur: no faces, motion or visible area');
  const outside = o.keepVisible ? outsideMask(o.keepVisible, width, height) : null;
  const detector = o.detector ? await o.detector() : null;
  const moving = o.motion ? new MovingRegions() : null;
  const decoder = spawn(
    o.ffmpeg,
    [
      ...['-nostdin', '-hide_banner', '-loglevel', 'error', '-rw_timeout', '15000000', '-i', o.url],
      ...[
        '-map',
        '0:v:0',
        '-vf',
        `scale=${width}:${height}`,
        '-f',
        'rawvideo',
        '-pix_fmt',
        'yuv420p',
        'pipe:1',
      ],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const encoder = spawn(
    o.ffmpeg,
    [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'yuv420p'],
      ...['-s', `${width}x${height}`, '-r', String(info.fps), '-i', 'pipe:0'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'],
      ...['-movflags', '+faststart', '-f', 'mp4', o.out],
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  o.onChild(decoder);
  o.onChild(encoder);
  let stderr = '';
  const keep = (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  };
  decoder.stderr?.on('data', keep);
  encoder.stderr?.on('data', keep);
  encoder.stdin?.on('error', () => {}); // EPIPE when the encoder died; its exit code says why
  const exited = (c: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      c.once('error', () => resolve(-1));
      c.once('close', (code) => resolve(code));
    });
  const decoderDone = exited(decoder);
  const encoderDone = exited(encoder);

  let frames = 0;
  let faces = 0;
  // Frames wait here until the HOLD_FRAMES after them have been searched; sightings of the
  // HOLD_FRAMES before them stay known.
  const pending: { image: I420Image; boxes: Rect[] }[] = [];
  const recent: Rect[][] = [];
  const emit = async () => {
    const frame = pending.shift() as { image: I420Image; boxes: Rect[] };
    const regions = [...frame.boxes];
    recent.forEach((boxes, i) => {
      for (const b of boxes) regions.push(grown(b, recent.length - i));
    });
    pending.slice(0, HOLD_FRAMES).forEach((next, i) => {
      for (const b of next.boxes) regions.push(grown(b, i + 1));
    });
    if (regions.length > 0) blurRegions(frame.image, regions, 0.2, EXPORT_BLOCKS);
    if (outside) blurOutside(frame.image, outside);
    recent.push(frame.boxes);
    if (recent.length > HOLD_FRAMES) recent.shift();
    const data = frame.image.data;
    if (!encoder.stdin?.write(data)) await new Promise((r) => encoder.stdin?.once('drain', r));
    frames++;
    if (frames % 10 === 0) o.onProgress(frames, info.fps);
  };
  // Chunks are kept as they come and joined once per frame: joining on every chunk would copy
  // a 1080p frame (3 MB) dozens of times over.
  let chunks: Buffer[] = [];
  let queued = 0;
  for await (const chunk of decoder.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    queued += chunk.length;
    while (queued >= frameBytes) {
      const joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, queued);
      // Copied: the frame outlives the chunk while it waits for the frames after it.
      const data = new Uint8Array(joined.subarray(0, frameBytes));
      chunks = joined.length > frameBytes ? [joined.subarray(frameBytes)] : [];
      queued -= frameBytes;
      const image: I420Image = { width, height, data };
      const found = detector ? await detector.search(image, o.search ?? EXPORT_SEARCH) : [];
      faces += found.length;
      const boxes: Rect[] = moving ? [...found, ...moving.update(image)] : found;
      pending.push({ image, boxes });
      if (pending.length > HOLD_FRAMES) await emit();
    }
  }
  while (pending.length > 0) await emit();
  encoder.stdin?.end();
  const [dec, enc] = await Promise.all([decoderDone, encoderDone]);
  if (dec !== 0 || enc !== 0)
    throw new Error(stderr.trim().split('\n').slice(-3).join(' ') || `ffmpeg exited ${dec}/${enc}`);
  if (frames === 0) throw new Error('no frame in the range');
  return { frames, faces };
}

/** A box held `distance` frames away from its sighting, grown for the face's possible movement. */
function grown(b: Rect, distance: number): Rect {
  const dx = b.width * HOLD_GROWTH * distance;
  const dy = b.height * HOLD_GROWTH * distance;
  return { x: b.x - dx, y: b.y - dy, width: b.width + 2 * dx, height: b.height + 2 * dy };
}

/** Blocks across the longer side of the frame for the area outside `keepVisible` (48 px at 1080p). */
const OUTSIDE_BLOCKS = 40;

/**
 * Which pixels lie outside every polygon (1) and which inside one (0), for luma; chroma reads it
 * at its 2×2 blocks' top-left pixel. Even-odd rule, pixel centres.
 */
export function outsideMask(polygons: readonly Polygon[], width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height).fill(1);
  const crossings: number[] = [];
  for (let y = 0; y < height; y++) {
    const py = (y + 0.5) / height;
    for (const poly of polygons) {
      crossings.length = 0;
      for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
        const [xi, yi] = poly[i] as [number, number];
        const [xj, yj] = poly[j] as [number, number];
        if (yi > py !== yj > py) crossings.push(((xj - xi) * (py - yi)) / (yj - yi) + xi);
      }
      crossings.sort((a, b) => a - b);
      for (let k = 0; k + 1 < crossings.length; k += 2) {
        const x0 = Math.max(0, Math.ceil((crossings[k] as number) * width - 0.5));
        const x1 = Math.min(width, Math.ceil((crossings[k + 1] as number) * width - 0.5));
        if (x1 > x0) mask.fill(0, y * width + x0, y * width + x1);
      }
    }
  }
  return mask;
}

/** Blurs every pixel of `image` that `outside` marks: a blurred copy of the frame, taken where marked. */
function blurOutside(image: I420Image, outside: Uint8Array): void {
  const { width, height, data } = image;
  const copy: I420Image = { width, height, data: data.slice() };
  blurRegions(copy, [{ x: 0, y: 0, width, height }], 0, OUTSIDE_BLOCKS);
  const luma = width * height;
  for (let i = 0; i < luma; i++) if (outside[i]) data[i] = copy.data[i] as number;
  const cw = width / 2;
  const quarter = luma / 4;
  for (let y = 0; y < height / 2; y++)
    for (let x = 0; x < cw; x++) {
      if (!outside[2 * y * width + 2 * x]) continue;
      const k = luma + y * cw + x;
      data[k] = copy.data[k] as number;
      data[k + quarter] = copy.data[k + quarter] as number;
    }
}
