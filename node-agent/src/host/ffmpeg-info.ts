/** What the host's ffmpeg can do, and what a camera stream is, asked of ffmpeg/ffprobe themselves. */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfmpegInfo {
  version: string;
  hwEncoders: string[];
}

const HW_ENCODER_RE = /^(?:hevc|h264)_(?:v4l2m2m|vaapi|qsv|nvenc|amf|omx|rkmpp|videotoolbox|mediacodec)$/;

/** Parses `ffmpeg -version` output: "ffmpeg version 5.1.9-0+deb12u1 Copyright…" → "5.1.9-0+deb12u1". */
export function parseFfmpegVersion(output: string): string {
  const m = /ffmpeg version (\S+)/.exec(output);
  return (m?.[1] ?? 'unknown').slice(0, 120);
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

export async function ffmpegInfo(ffmpeg = 'ffmpeg'): Promise<FfmpegInfo> {
  const [version, encoders] = await Promise.all([
    run(ffmpeg, ['-hide_banner', '-version'], { timeout: 10_000 }),
    run(ffmpeg, ['-hide_banner', '-encoders'], { timeout: 10_000, maxBuffer: 4 * 1024 * 1024 }),
  ]);
  return { version: parseFfmpegVersion(version.stdout), hwEncoders: parseHwEncoders(encoders.stdout) };
}

export interface StreamInfo {
  codec: string;
  width: number;
  height: number;
  fps: number;
}

function parseRate(rate: string | undefined): number {
  const [num, den] = (rate ?? '0/0').split('/').map(Number);
  if (!num || !den) return 0;
  return Math.round((num / den) * 100) / 100;
}

/** The first video stream of a source (camera URL or file). */
export async function probeVideo(url: string, timeoutMs = 15_000, ffprobe = 'ffprobe'): Promise<StreamInfo> {
  const args = ['-v', 'error'];
  if (url.startsWith('rtsp')) args.push('-rtsp_transport', 'tcp');
  args.push(
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,width,height,avg_frame_rate,r_frame_rate',
    '-of',
    'json',
    url,
  );
  const { stdout } = await run(ffprobe, args, { timeout: timeoutMs });
  const parsed = JSON.parse(stdout) as {
    streams?: {
      codec_name?: string;
      width?: number;
      height?: number;
      avg_frame_rate?: string;
      r_frame_rate?: string;
    }[];
  };
  const s = parsed.streams?.[0];
  if (!s?.codec_name) throw new Error('no video stream found');
  const fps = parseRate(s.avg_frame_rate) || parseRate(s.r_frame_rate);
  return { codec: s.codec_name, width: s.width ?? 0, height: s.height ?? 0, fps };
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
