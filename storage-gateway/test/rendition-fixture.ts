/** Recordings for the rendition tests, encoded like a node agent records (H.265, hvc1, fMP4 HLS). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type HlsFixture, mediaHeaders, put, readHlsOutput } from './gateway-harness.ts';

const run = promisify(execFile);

export interface RecordingOptions {
  seconds: number;
  size?: string;
  fps?: number;
  segmentSeconds?: number;
}

/**
 * Encodes `seconds` of test pattern with the agent's libx265 settings (one keyframe per
 * segment, no scene cuts, x265's default open GOP with B-frames) into fMP4 HLS.
 */
export async function makeRecording(
  dir: string,
  prefix: string,
  opts: RecordingOptions,
): Promise<HlsFixture> {
  const { seconds, size = '320x180', fps = 10, segmentSeconds = 3 } = opts;
  const gop = fps * segmentSeconds;
  const out = join(dir, prefix);
  await mkdir(out, { recursive: true });
  const initName = `init-${prefix}.mp4`;
  await run(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`],
      ...['-t', String(seconds), '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1'],
      ...['-pix_fmt', 'yuv420p', '-g', String(gop)],
      ...['-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:log-level=error`],
      ...['-f', 'hls', '-hls_time', String(segmentSeconds), '-hls_segment_type', 'fmp4'],
      ...['-hls_playlist_type', 'vod', '-hls_fmp4_init_filename', initName],
      ...['-hls_segment_filename', join(out, `${prefix}-%03d.m4s`), join(out, 'index.m3u8')],
    ],
    { timeout: 120_000 },
  );
  return readHlsOutput(out, initName);
}

/** Uploads an init file and its segments back to back from `start`, with real start times. */
export async function upload(url: string, camera: string, hls: HlsFixture, start: Date): Promise<void> {
  const init = await put(url, camera, hls.init.name, hls.init.data);
  assert.ok(init.status < 300, JSON.stringify(init.body));
  let t = start.getTime();
  for (const seg of hls.segments) {
    const res = await put(
      url,
      camera,
      seg.name,
      seg.data,
      mediaHeaders(new Date(t), seg.durationMs, hls.init.name),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    t += seg.durationMs;
  }
}

/** ffprobe's JSON for a URL or file, failing with its stderr. */
export async function ffprobe(
  target: string,
  args: string[],
): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run('ffprobe', ['-v', 'error', ...args, '-of', 'json', target], {
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { json: JSON.parse(stdout) as Record<string, unknown>, stderr };
}
