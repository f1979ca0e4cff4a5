/** One frame of a camera stream as a small JPEG, read by ffmpeg (for `cmd/probe`). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readError } from '../host/ffmpeg-info.ts';

const run = promisify(execFile);

export interface SnapshotOptions {
  /** The whole grab's limit: ffmpeg is killed past it. */
  timeoutMs: number;
  /** Scaled down to this width when wider, keeping the aspect ratio. */
  maxWidth: number;
  /** ffmpeg's JPEG quality scale, 2 (best) to 31 (smallest). */
  quality: number;
  signal?: AbortSignal;
  ffmpeg?: string;
}

/**
 * The first picture of the source opened by `input` (ffmpeg's input options and `-i` operand), as
 * JPEG bytes; throws SourceReadError (stderr kept for classification) when there is none.
 */
export async function grabJpeg(input: string[], opts: SnapshotOptions): Promise<Buffer> {
  const args = [
    ...['-hide_banner', '-nostdin', '-v', 'error'],
    ...input,
    ...['-an', '-sn', '-dn', '-frames:v', '1'],
    ...['-vf', `scale='min(${opts.maxWidth},iw)':-2`, '-q:v', String(opts.quality)],
    ...['-f', 'mjpeg', 'pipe:1'],
  ];
  try {
    const { stdout } = await run(opts.ffmpeg ?? 'ffmpeg', args, {
      encoding: 'buffer',
      timeout: opts.timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 8 * 1024 * 1024,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return stdout;
  } catch (err) {
    throw readError(err, opts.timeoutMs, 'ffmpeg failed');
  }
}
