/**
 * Pre-encoded camera clips for benchmarks, made once with ffmpeg's `testsrc2` and cached under
 * `<os.tmpdir()>/cctv-bench-cache/`. Noise on top of the pattern keeps the encoder busy enough
 * that the bitrate resembles a real 1080p camera (~3.5 Mb/s) rather than a near-static pattern.
 * The clip's parameters are in its file name, so changing them makes a new clip.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const clipCacheDir = join(tmpdir(), 'cctv-bench-cache');

export interface ClipSpec {
  codec: 'h264' | 'h265';
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Keyframe interval in frames. */
  gop: number;
  kbps: number;
}

export interface Clip extends ClipSpec {
  path: string;
  /** True when this call encoded it (false: found in the cache). */
  made: boolean;
  encodeS: number;
}

export function clipName(s: ClipSpec): string {
  return `testsrc2-${s.codec}-${s.width}x${s.height}-${s.fps}fps-${s.seconds}s-g${s.gop}-${s.kbps}k.mp4`;
}

function encodeArgs(s: ClipSpec): string[] {
  const rate = [
    '-b:v',
    `${s.kbps}k`,
    '-maxrate',
    `${Math.round(s.kbps * 1.2)}k`,
    '-bufsize',
    `${s.kbps * 2}k`,
  ];
  if (s.codec === 'h264')
    return [
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', ...rate],
      ...['-g', String(s.gop), '-keyint_min', String(s.gop), '-sc_threshold', '0', '-bf', '0'],
    ];
  const x265 = `keyint=${s.gop}:min-keyint=${s.gop}:scenecut=0:bframes=0:log-level=error`;
  return [
    '-c:v',
    'libx265',
    '-preset',
    'veryfast',
    ...rate,
    '-bf',
    '0',
    '-x265-params',
    x265,
    '-tag:v',
    'hvc1',
  ];
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message}\n${stderr.slice(-3000)}`));
      else resolve();
    });
  });
}

/** The cached clip, encoding it first when missing. */
export async function ensureClip(spec: ClipSpec, log: (line: string) => void = () => {}): Promise<Clip> {
  const path = join(clipCacheDir, clipName(spec));
  if (existsSync(path)) return { ...spec, path, made: false, encodeS: 0 };
  await mkdir(clipCacheDir, { recursive: true });
  log(`encoding ${path} (once; cached for later runs)`);
  const started = Date.now();
  const partial = `${path}.partial.mp4`;
  const source =
    `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps},` +
    // Temporal noise: every frame differs everywhere, as sensor noise does on a real camera.
    'noise=alls=10:allf=t+u,format=yuv420p';
  try {
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...['-f', 'lavfi', '-i', source, '-t', String(spec.seconds)],
      ...encodeArgs(spec),
      ...['-an', '-movflags', '+faststart', partial],
    ]);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return { ...spec, path, made: true, encodeS: (Date.now() - started) / 1000 };
}
