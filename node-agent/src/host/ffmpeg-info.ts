/** What the host's ffmpeg can do, and what a camera stream is, asked of ffmpeg/ffprobe themselves. */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { redactCredentials } from '@cctv/protocol';

const run = promisify(execFile);

export interface FfmpegInfo {
  version: string;
  /** Hardware encoders that encoded a test pattern here. */
  hwEncoders: string[];
  /** Hardware encoders compiled into ffmpeg, usable or not. */
  listedHwEncoders?: string[];
}

const HW_ENCODER_RE = /^(?:hevc|h264)_(?:v4l2m2m|vaapi|qsv|nvenc|amf|omx|rkmpp|videotoolbox|mediacodec)$/;

/** Parses `ffmpeg -version` output: "ffmpeg version 5.1.9-0+deb12u1 Copyright…" → "5.1.9-0+deb12u1". */
export function parseFfmpegVersion(output: string): string {
  const m = /ffmpeg version (\S+)/.exec(output);
  return (m?.[1] ?? 'unknown').slice(0, 120);
}

/** True when `command` is an executable on the PATH. */
export async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      await access(`${dir}/${command}`, constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Hardware H.264/H.265 encoders listed by `ffmpeg -encoders` (lines like " V....D hevc_vaapi  …"). */
export function parseHwEncoders(output: string): string[] {
  const found: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*V\S*\s+(\S+)/.exec(line);
    if (m?.[1] && HW_ENCODER_RE.test(m[1])) found.push(m[1]);
  }
  return found.slice(0, 32);
}

/**
 * ffmpeg's version and the hardware encoders that really work here. Distribution builds list
 * encoders for hardware the host may lack (Debian's lists hevc_v4l2m2m on any x86 box), so
 * each listed one the codec policy could pick is tried on a few frames first.
 */
export async function ffmpegInfo(ffmpeg = 'ffmpeg'): Promise<FfmpegInfo> {
  const [version, encoders] = await Promise.all([
    run(ffmpeg, ['-hide_banner', '-version'], { timeout: 10_000 }),
    run(ffmpeg, ['-hide_banner', '-encoders'], { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }),
  ]);
  const listed = parseHwEncoders(encoders.stdout);
  const usable: string[] = [];
  // Only H.265 encoders matter for recording; each failing try costs ~0.1 s at start.
  for (const encoder of listed.filter((e) => e.startsWith('hevc_')))
    if (await encoderWorks(ffmpeg, encoder)) usable.push(encoder);
  return { version: parseFfmpegVersion(version.stdout), hwEncoders: usable, listedHwEncoders: listed };
}

/** Encodes a few frames of a test pattern with the encoder; false when it cannot. */
export async function encoderWorks(ffmpeg: string, encoder: string): Promise<boolean> {
  try {
    await run(
      ffmpeg,
      [
        ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10'],
        ...['-frames:v', '5', '-pix_fmt', 'yuv420p', '-c:v', encoder, '-f', 'null', '-'],
      ],
      { timeout: 15_000 },
    );
    return true;
  } catch {
    return false;
  }
}

export interface StreamInfo {
  codec: string;
  width: number;
  height: number;
  fps: number;
}

/** The first video stream of a source, and whether it also carries audio. */
export interface SourceStreams {
  video: StreamInfo;
  /** The first audio stream's codec, or null. */
  audio: string | null;
}

/** ffprobe or ffmpeg could not read a source: its last line of stderr (or the timeout) as message. */
export class SourceReadError extends Error {
  constructor(
    message: string,
    /** Everything printed on stderr (it may hold the URL as given, password included). */
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

/**
 * An execFile failure as a SourceReadError; the message is the last line of stderr with any
 * password in a URL redacted (it is logged and reported).
 */
export function readError(err: unknown, timeoutMs: number, fallback: string): SourceReadError {
  const e = err as Error & { stderr?: string | Buffer; killed?: boolean; code?: unknown };
  const stderr = e.stderr?.toString() ?? '';
  const timedOut = e.killed === true || e.code === 'ABORT_ERR';
  const line = stderr.trim().split('\n').at(-1) || (e.message.split('\n')[0] ?? fallback);
  return new SourceReadError(
    timedOut ? `no answer in ${timeoutMs / 1000} s` : redactCredentials(line),
    stderr,
    timedOut,
  );
}

function parseRate(rate: string | undefined): number {
  const [num, den] = (rate ?? '0/0').split('/').map(Number);
  if (!num || !den) return 0;
  return Math.round((num / den) * 100) / 100;
}

/**
 * The first video stream of a source; `input` is what opens it (options, then the URL, device
 * or file as the last item).
 */
export async function probeVideo(
  input: string[],
  timeoutMs = 15_000,
  ffprobe = 'ffprobe',
): Promise<StreamInfo> {
  return (await probeStreams(input, timeoutMs, ffprobe)).video;
}

/** The first video and audio streams of a source; throws SourceReadError when it cannot be read. */
export async function probeStreams(
  input: string[],
  timeoutMs = 15_000,
  ffprobe = 'ffprobe',
  signal?: AbortSignal,
): Promise<SourceStreams> {
  const location = input.at(-1) ?? '';
  // ffprobe's default 5 s of analysis would lengthen every reconnect; 1.5 s finds size and rate.
  const args = ['-v', 'error', '-analyzeduration', '1500000', ...input.slice(0, -1)];
  args.push(
    '-show_entries',
    'stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate',
    '-of',
    'json',
    location,
  );
  let stdout: string;
  try {
    ({ stdout } = await run(ffprobe, args, {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      ...(signal ? { signal } : {}),
    }));
  } catch (err) {
    throw readError(err, timeoutMs, 'ffprobe failed');
  }
  const parsed = JSON.parse(stdout) as {
    streams?: {
      codec_type?: string;
      codec_name?: string;
      width?: number;
      height?: number;
      avg_frame_rate?: string;
      r_frame_rate?: string;
    }[];
  };
  const streams = parsed.streams ?? [];
  const s = streams.find((x) => x.codec_type === 'video');
  if (!s?.codec_name) throw new SourceReadError('no video stream found', '', false);
  const fps = parseRate(s.avg_frame_rate) || parseRate(s.r_frame_rate);
  return {
    video: { codec: s.codec_name, width: s.width ?? 0, height: s.height ?? 0, fps },
    audio: streams.find((x) => x.codec_type === 'audio')?.codec_name ?? null,
  };
}

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
];

/** A font file for the clock overlay, or null when the host has none (the overlay is then skipped). */
export async function findFont(): Promise<string | null> {
  for (const candidate of FONT_CANDIDATES) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // try the next one
    }
  }
  try {
    const { stdout } = await run('fc-match', ['-f', '%{file}', 'sans'], { timeout: 5000 });
    const file = stdout.trim();
    if (file) {
      await access(file);
      return file;
    }
  } catch {
    // no fontconfig either
  }
  return null;
}
