import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RenditionError } from './rendition-error.ts';

export interface TranscodeJob {
  /** Read one after the other into ffmpeg's stdin: the init file, then the media segment. */
  inputs: Readable[];
  /** Where the MPEG-TS goes; a temp path, renamed by the caller once complete. */
  output: string;
  timeoutMs: number;
  /** Aborted when the service stops: the process is killed. */
  signal: AbortSignal;
}

/** Turns one source segment into one H.264 segment; throws a RenditionError. */
export type Transcoder = (job: TranscodeJob) => Promise<void>;

/** ffmpeg arguments for one fMP4 (H.265) segment on stdin to one MPEG-TS (H.264) file. */
export function h264Args(output: string): string[] {
  return [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error'],
    // The source's decode times (tfdt) pass through, so consecutive segments of a recording
    // continue one timeline, as hls.js expects between two discontinuities.
    '-copyts',
    ...['-f', 'mp4', '-i', 'pipe:0'],
    ...['-map', '0:v:0', '-map', '0:a:0?', '-sn', '-dn'],
    // A segment decoded alone loses the leading pictures of an open GOP (libx265's default);
    // a constant rate at the source's own fills that hole instead of leaving a gap.
    ...['-vf', 'fps=source_fps'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p'],
    // No B-frames: decode and presentation times match, so segments butt without overlap.
    ...['-bf', '0'],
    ...['-c:a', 'aac', '-b:a', '96k'],
    ...['-f', 'mpegts', '-y', output],
  ];
}

const STDERR_TAIL = 2000;

/**
 * Runs ffmpeg (spawned with an argument list, no shell) on one job: the inputs are piped
 * into stdin, stderr is kept as a tail for the error message, and the process is killed
 * when it runs past the timeout or the signal aborts.
 */
export function ffmpegH264(ffmpegPath = 'ffmpeg'): Transcoder {
  return async (job) => {
    if (job.signal.aborted) throw new RenditionError('stopped', 'the rendition service is stopping');
    const child = spawn(ffmpegPath, h264Args(job.output), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    let killedFor: 'timeout' | 'stopped' | null = null;
    const kill = (why: 'timeout' | 'stopped') => {
      if (killedFor || child.exitCode !== null || child.signalCode !== null) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), job.timeoutMs);
    const onAbort = () => kill('stopped');
    job.signal.addEventListener('abort', onAbort, { once: true });

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    // A read error of the source is ours to report; a write error on stdin only means
    // ffmpeg stopped reading, and its exit status says why.
    let sourceError: unknown = null;
    const inputs = job.inputs;
    const fed = pipeline(async function* () {
      for (const input of inputs) {
        try {
          for await (const chunk of input) yield chunk as Buffer;
        } catch (err) {
          sourceError = err;
          throw err;
        }
      }
    }, child.stdin).catch(() => {});

    let exit: { code: number | null; signal: NodeJS.Signals | null };
    try {
      [exit] = await Promise.all([exited, fed]);
    } catch (err) {
      throw new RenditionError(
        'transcode_failed',
        `could not start ${ffmpegPath}: ${(err as Error).message}`,
      );
    } finally {
      clearTimeout(timer);
      job.signal.removeEventListener('abort', onAbort);
    }
    if (killedFor === 'timeout')
      throw new RenditionError('transcode_timeout', `ffmpeg ran past ${job.timeoutMs} ms and was killed`);
    if (killedFor === 'stopped') throw new RenditionError('stopped', 'the rendition service is stopping');
    if (sourceError)
      throw new RenditionError(
        'source_unreadable',
        `reading the source failed: ${(sourceError as Error).message}`,
      );
    if (exit.code !== 0)
      throw new RenditionError(
        'transcode_failed',
        `ffmpeg exited with ${exit.code ?? exit.signal}: ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no message'}`,
      );
  };
}
