/** Test helper: any image file ffmpeg reads, decoded by the real ffmpeg to an I420 frame. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { I420Image } from '@cctv/vision';

const run = promisify(execFile);

export interface DecodedImage extends I420Image {
  /** The file's own size; `width`/`height` are it rounded down to even numbers. */
  sourceWidth: number;
  sourceHeight: number;
}

/** Decodes `path` to yuv420p (BT.601, limited range), its size rounded down to even numbers. */
export async function decodeI420(path: string): Promise<DecodedImage> {
  const probe = await run('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=width,height', '-of', 'csv=p=0', path],
  ]);
  const [sourceWidth, sourceHeight] = probe.stdout.trim().split(',').map(Number);
  if (!sourceWidth || !sourceHeight) throw new Error(`ffprobe found no picture size in ${path}`);
  const width = sourceWidth - (sourceWidth % 2);
  const height = sourceHeight - (sourceHeight % 2);
  const { stdout } = await run(
    'ffmpeg',
    [
      ...['-v', 'error', '-i', path, '-frames:v', '1'],
      ...['-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2:out_range=tv:out_color_matrix=bt601'],
      ...['-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'],
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const data = new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength);
  if (data.length !== width * height * 1.5)
    throw new Error(`ffmpeg gave ${data.length} bytes for ${width}x${height} I420 from ${path}`);
  return { width, height, data, sourceWidth, sourceHeight };
}
