import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from './index.ts';
import { startRtspServer } from './rtsp-server.ts';

const run = promisify(execFile);

interface Probed {
  codec: string;
  width: number;
  height: number;
}

/** What ffprobe sees of the stream at `url`, over the given RTSP lower transport. */
async function probe(url: string, transport: 'tcp' | 'udp'): Promise<Probed> {
  const { stdout } = await run(
    'ffprobe',
    [
      ...['-v', 'error', '-rtsp_transport', transport, '-analyzeduration', '1000000'],
      ...['-show_entries', 'stream=codec_name,width,height', '-of', 'json', url],
    ],
    { timeout: 20_000 },
  );
  const stream = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] })
    .streams[0];
  assert.ok(stream, `ffprobe found no stream at ${url}`);
  return { codec: stream.codec_name, width: stream.width, height: stream.height };
}

/** Encodes a tiny test clip without B-frames, as cameras send. */
async function makeClip(file: string, codec: 'h264' | 'h265', seconds: number): Promise<void> {
  const encoder =
    codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast']
      : ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'];
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10', '-t', String(seconds)],
    ...encoder,
    ...['-bf', '0', '-g', '10', '-y', file],
  ]);
}

test('live H.264 reaches ffprobe over TCP and UDP at once (one shared media)', async () => {
  const server = await startRtspServer({ codec: 'h264', width: 320, height: 180, fps: 10 });
  assert.equal(server.url, `rtsp://127.0.0.1:${server.port}/stream`);
  const [tcp, udp] = await Promise.all([probe(server.url, 'tcp'), probe(server.url, 'udp')]);
  assert.deepEqual(tcp, { codec: 'h264', width: 320, height: 180 });
  assert.deepEqual(udp, { codec: 'h264', width: 320, height: 180 });
});

test('live H.265 on two mounts, over TCP and UDP', async () => {
  const server = await startRtspServer({
    codec: 'h265',
    width: 256,
    height: 144,
    mounts: ['/cam1', '/cam2'],
  });
  const [first, second] = server.urls;
  assert.ok(first && second);
  assert.deepEqual(await probe(first, 'tcp'), { codec: 'hevc', width: 256, height: 144 });
  assert.deepEqual(await probe(second, 'udp'), { codec: 'hevc', width: 256, height: 144 });
});

test('a TCP-only server refuses RTP over UDP and serves interleaved TCP', async () => {
  const server = await startRtspServer({ protocols: ['tcp'] });
  await assert.rejects(probe(server.url, 'udp'), /461 Unsupported transport/);
  assert.equal((await probe(server.url, 'tcp')).codec, 'h264');
});

test('a UDP-only server refuses interleaved TCP and serves RTP over UDP', async () => {
  const server = await startRtspServer({ protocols: ['udp'] });
  await assert.rejects(probe(server.url, 'tcp'), /461 Unsupported transport/);
  assert.equal((await probe(server.url, 'udp')).codec, 'h264');
});

test('restart() serves again on the same port after a crash', async () => {
  const server = await startRtspServer();
  const firstPid = server.pid;
  await server.stop('SIGKILL');
  assert.equal(server.pid, undefined);
  await assert.rejects(probe(server.url, 'tcp'), /Connection refused/);
  await server.restart();
  assert.notEqual(server.pid, firstPid);
  assert.equal(server.url, `rtsp://127.0.0.1:${server.port}/stream`);
  assert.equal((await probe(server.url, 'tcp')).codec, 'h264');
});

test('a file is served without re-encoding, looped past its end', async () => {
  const dir = await tempDir('cctv-rtsp-');
  const clip = join(dir, 'clip.mp4');
  await makeClip(clip, 'h264', 1);
  const server = await startRtspServer({ source: 'file', file: clip, codec: 'h264' });
  // Three seconds of a one-second clip: only a loop yields that many frames.
  const recording = join(dir, 'recording.mkv');
  await run('ffmpeg', [
    ...['-v', 'error', '-rtsp_transport', 'tcp', '-i', server.url, '-t', '3', '-c', 'copy', '-y', recording],
  ]);
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_name,width,height,nb_read_packets'],
    ...['-of', 'json', recording],
  ]);
  const stream = (JSON.parse(stdout) as { streams: Record<string, string | number>[] }).streams[0];
  assert.equal(stream?.codec_name, 'h264');
  assert.equal(stream?.width, 320);
  assert.ok(Number(stream?.nb_read_packets) >= 25, `only ${stream?.nb_read_packets} frames in 3 s`);
});

test('an H.265 MKV file is served over UDP', async () => {
  const dir = await tempDir('cctv-rtsp-');
  const clip = join(dir, 'clip.mkv');
  await makeClip(clip, 'h265', 2);
  const server = await startRtspServer({ source: 'file', file: clip, codec: 'h265' });
  assert.deepEqual(await probe(server.url, 'udp'), { codec: 'hevc', width: 320, height: 180 });
});

test('a file in the wrong codec fails the start with the reason', async () => {
  const dir = await tempDir('cctv-rtsp-');
  const clip = join(dir, 'clip.mp4');
  await makeClip(clip, 'h264', 1);
  await assert.rejects(
    startRtspServer({ source: 'file', file: clip, codec: 'h265' }),
    /exited \(1\) before it was ready[\s\S]*an MP4 or MKV of h265 video/,
  );
});
