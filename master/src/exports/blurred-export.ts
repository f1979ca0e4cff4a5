/**
 * An export with every face blurred: one ffmpeg decodes the range to YUV 4:2:0 frames, each
 * frame is searched for faces (BlazeFace, `@cctv/vision/faces`) and the faces blurred
 * (`blurRegions`: pixelated and smoothed, margin included), and a second ffmpeg encodes the
 * frames again (H.264) into the MP4. Every frame is searched: a face missed in one frame would
 * be shown in it. Audio is left out (it can identify people too).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { blurRegions, type I420Image } from '@cctv/vision';
import type { FaceDetector } from '@cctv/vision/faces';

export interface BlurredExportOptions {
  /** The gateway's VOD playlist of the range. */
  url: string;
  out: string;
  ffmpeg: string;
  detector: () => Promise<FaceDetector>;
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
  const detector = await o.detector();
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
  // Chunks are kept as they come and joined once per frame: joining on every chunk would copy
  // a 1080p frame (3 MB) dozens of times over.
  let chunks: Buffer[] = [];
  let queued = 0;
  for await (const chunk of decoder.stdout as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    queued += chunk.length;
    while (queued >= frameBytes) {
      const joined = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, queued);
      const data = new Uint8Array(joined.subarray(0, frameBytes));
      chunks = joined.length > frameBytes ? [joined.subarray(frameBytes)] : [];
      queued -= frameBytes;
      const image: I420Image = { width, height, data };
      const found = await detector.detect(image);
      if (found.length > 0) {
        faces += found.length;
        blurRegions(image, found);
      }
      if (!encoder.stdin?.write(data)) await new Promise((r) => encoder.stdin?.once('drain', r));
      frames++;
      if (frames % 10 === 0) o.onProgress(frames, info.fps);
    }
  }
  encoder.stdin?.end();
  const [dec, enc] = await Promise.all([decoderDone, encoderDone]);
  if (dec !== 0 || enc !== 0)
    throw new Error(stderr.trim().split('\n').slice(-3).join(' ') || `ffmpeg exited ${dec}/${enc}`);
  if (frames === 0) throw new Error('no frame in the range');
  return { frames, faces };
}
