/**
 * Real footage for tests and benchmarks: a test pattern encoded by ffmpeg into fMP4 HLS, as
 * an agent records it (an init file and its media segments). No `node:test` here: benchmarks
 * use it too.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface HlsFootage {
  init: Buffer;
  segments: { name: string; data: Buffer }[];
}

export interface HlsFootageOptions {
  codec: 'h264' | 'hevc';
  /** `WIDTHxHEIGHT`. */
  size: string;
  fps: number;
  seconds: number;
  segmentS?: number;
}

/** Encodes `testsrc2` into `dir` (made if missing) and reads the files back. */
export async function encodeHlsFootage(dir: string, o: HlsFootageOptions): Promise<HlsFootage> {
  await mkdir(dir, { recursive: true });
  const gop = String(o.fps * (o.segmentS ?? 2));
  const codec =
    o.codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', gop, '-keyint_min', gop, '-sc_threshold', '0']
      : [
          '-c:v',
          'libx265',
          '-preset',
          'ultrafast',
          '-x265-params',
          'log-level=error',
          '-tag:v',
          'hvc1',
          '-g',
          gop,
        ];
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.fps}`],
    ...['-t', String(o.seconds), ...codec],
    ...[
      '-f',
      'hls',
      '-hls_time',
      String(o.segmentS ?? 2),
      '-hls_segment_type',
      'fmp4',
      '-hls_playlist_type',
      'vod',
    ],
    ...['-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', join(dir, 'seg-%03d.m4s')],
    join(dir, 'index.m3u8'),
  ]);
  const names = (await readdir(dir)).filter((f) => f.endsWith('.m4s')).sort();
  return {
    init: await readFile(join(dir, 'init.mp4')),
    segments: await Promise.all(names.map(async (name) => ({ name, data: await readFile(join(dir, name)) }))),
  };
}
