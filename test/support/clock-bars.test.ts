/**
 * The clock-bars stamp (bench/support/clock-bars.ts) drawn by a real ffmpeg and read back from
 * raw frames, through H.264 at a low bitrate, and live through the stand-in camera's `stdin` source.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import {
  CLOCK_BARS_BITS,
  ClockBarsLayoutError,
  clockBarsFilter,
  clockBarsHeight,
  decodeClockBars,
  latencyMs,
} from '../../bench/support/clock-bars.ts';
import { onCleanup, tempDir } from './index.ts';
import { type RtspServerOptions, startRtspServer } from './rtsp-server.ts';

const run = promisify(execFile);
const W = 320;
const H = 180;
const FPS = 25;
const MOD = 2 ** CLOCK_BARS_BITS;

interface Frames {
  frames: Buffer[];
  /** Date.now() when each frame's last byte arrived. */
  arrivals: number[];
}

/**
 * Runs ffmpeg with `input` (its input options and `-i`), writing `count` raw RGBA frames of
 * W×H to its stdout; each frame is timed as it arrives. Killed after `timeoutMs` or the test file.
 */
function rgbaFrames(input: string[], count: number, timeoutMs = 20_000): Promise<Frames> {
  const size = W * H * 4;
  const args = [
    '-v',
    'error',
    ...input,
    '-frames:v',
    String(count),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgba',
    'pipe:1',
  ];
  return new Promise<Frames>((resolve, reject) => {
    const ff = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = () => ff.exitCode === null && ff.signalCode === null && ff.kill('SIGKILL');
    onCleanup(kill);
    const timer = setTimeout(kill, timeoutMs);
    const out: Frames = { frames: [], arrivals: [] };
    let pending = Buffer.alloc(0);
    let stderr = '';
    ff.stdout.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= size) {
        out.frames.push(pending.subarray(0, size));
        out.arrivals.push(Date.now());
        pending = pending.subarray(size);
      }
    });
    ff.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    ff.on('error', reject);
    ff.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && out.frames.length === count) resolve(out);
      else
        reject(
          new Error(
            `ffmpeg ${args.join(' ')} ended (${code ?? signal}) with ${out.frames.length} frames\n${stderr}`,
          ),
        );
    });
  });
}

const lavfi = () => ['-f', 'lavfi', '-i', clockBarsFilter({ width: W, height: H, fps: FPS })];

/** Asserts `v` is a stamp from within [from, to] (ms since the epoch), modulo 2^bits. */
function assertWithin(v: number | null, from: number, to: number, what: string): asserts v is number {
  assert.notEqual(v, null, `${what}: no stamp decoded`);
  const age = latencyMs(v as number, to);
  assert.ok(age >= 0 && age <= to - from, `${what}: stamp ${v} is not within [${from % MOD}, ${to % MOD}]`);
}

/**
 * Asserts the stamps are a paced stream: `realtime` never lets frame i go before its due time,
 * i frame intervals after frame 0 (stamps are whole ms, hence the 2 ms of slack); a late frame
 * may be followed at once by the next, so only the total is checked, not each gap.
 */
function assertPaced(stamps: number[]): void {
  const first = stamps[0] as number;
  let previous = 0;
  stamps.forEach((v, i) => {
    const since = latencyMs(first, v);
    assert.ok(since >= previous, `frame ${i} (${v}) is before frame ${i - 1}`);
    assert.ok(since >= (i * 1000) / FPS - 2, `frame ${i} came ${since} ms after frame 0: too early`);
    assert.ok(since < (i * 1000) / FPS + 1000, `frame ${i} came ${since} ms after frame 0: too late`);
    previous = since;
  });
}

test('latencyMs takes the wrap of the stamp into account', () => {
  assert.equal(latencyMs(100, 2 ** 30 + 150, 24), 50);
  assert.equal(latencyMs(MOD - 10, 7 * MOD + 20, 24), 30);
  assert.equal(latencyMs(0, 5 * MOD, 24), 0);
  // A stamp slightly in the future reads as a small negative latency, not as four hours.
  assert.equal(latencyMs(110, 5 * MOD + 100, 24), -10);
  assert.equal(latencyMs(5, 2 ** 32 + 12.5, 32), 7.5);
});

test('clockBarsFilter refuses a frame too narrow or too short for the strip', () => {
  assert.throws(() => clockBarsFilter({ width: 160, height: 120, fps: 10 }), ClockBarsLayoutError);
  assert.throws(() => clockBarsFilter({ width: 320, height: 40, fps: 10 }), ClockBarsLayoutError);
  assert.throws(() => clockBarsFilter({ width: 320, height: 180, fps: 0 }), ClockBarsLayoutError);
  assert.equal(clockBarsHeight(320), 27);
});

test('raw frames carry their wall-clock time, one frame interval apart', async () => {
  const before = Date.now();
  const { frames } = await rgbaFrames(lavfi(), 3);
  const after = Date.now();
  const stamps = frames.map((f, i) => {
    const v = decodeClockBars(f, W, H);
    assertWithin(v, before, after, `frame ${i}`);
    return v;
  });
  console.log(`raw stamps: ${stamps.join(' ')} (run ${before % MOD}..${after % MOD})`);
  assertPaced(stamps);
});

test('the decoder is self-contained: it runs in a bare context, as in a browser', async () => {
  const { frames } = await rgbaFrames(lavfi(), 1);
  const frame = frames[0] as Buffer;
  const bare = runInNewContext(`(${decodeClockBars.toString()})`, {}) as typeof decodeClockBars;
  const expected = decodeClockBars(frame, W, H);
  assert.notEqual(expected, null);
  assert.equal(bare(new Uint8ClampedArray(frame), W, H), expected);
});

test('one corrupted block, a frame without the strip, or a cut frame decode to null', async () => {
  const { frames } = await rgbaFrames(lavfi(), 1);
  const frame = frames[0] as Buffer;
  assert.notEqual(decodeClockBars(frame, W, H), null, 'the intact frame must decode');
  const s = W / CLOCK_BARS_BITS;
  for (const [column, row] of [
    [0, 0],
    [9, 1],
    [23, 0],
  ] as const) {
    const bad = Buffer.from(frame);
    // Invert one block: the pair then agrees, which no stamp can.
    for (let y = Math.round(row * s); y < Math.round((row + 1) * s); y++)
      for (let x = Math.round(column * s); x < Math.round((column + 1) * s); x++)
        for (let c = 0; c < 3; c++) {
          const p = (y * W + x) * 4 + c;
          bad[p] = 255 - (bad[p] as number);
        }
    assert.equal(decodeClockBars(bad, W, H), null, `block ${column}/${row} inverted`);
  }
  const grey = Buffer.alloc(W * H * 4, 128);
  assert.equal(decodeClockBars(grey, W, H), null, 'a grey frame');
  const { frames: plain } = await rgbaFrames(['-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=${FPS}`], 1);
  assert.equal(decodeClockBars(plain[0] as Buffer, W, H), null, 'testsrc2 without the strip');
  assert.equal(decodeClockBars(frame.subarray(0, W * 10 * 4), W, H), null, 'a frame cut short');
});

test('a frame shown scaled (aspect kept) still decodes, from its own size', async () => {
  const graph = clockBarsFilter({ width: 640, height: 360, fps: FPS });
  for (const [w, h] of [
    [480, 270],
    [1280, 720],
  ] as const) {
    const before = Date.now();
    const { stdout } = await run(
      'ffmpeg',
      [
        ...['-v', 'error', '-f', 'lavfi', '-i', graph, '-frames:v', '1', '-vf', `scale=${w}:${h}`],
        ...['-f', 'rawvideo', '-pix_fmt', 'rgba', 'pipe:1'],
      ],
      { encoding: 'buffer', maxBuffer: 16 << 20, timeout: 20_000 },
    );
    assertWithin(decodeClockBars(stdout, w, h), before, Date.now(), `640×360 shown at ${w}×${h}`);
  }
});

test('the stamps survive H.264 at 300 kbit/s', async () => {
  const dir = await tempDir('cctv-clock-bars-');
  const clip = join(dir, 'clip.mp4');
  const before = Date.now();
  await run(
    'ffmpeg',
    [
      ...['-v', 'error', ...lavfi(), '-frames:v', '50'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-b:v', '300k', '-maxrate', '300k'],
      ...['-bufsize', '300k', '-y', clip],
    ],
    { timeout: 30_000 },
  );
  const after = Date.now();
  const { stdout: bitrate } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=bit_rate', '-of', 'csv=p=0', clip],
  ]);
  assert.ok(Number(bitrate) < 400_000, `the clip is ${bitrate} bit/s, not a low bitrate`);
  const { frames } = await rgbaFrames(['-i', clip], 50);
  const stamps = frames.map((f, i) => {
    const v = decodeClockBars(f, W, H);
    assertWithin(v, before, after, `frame ${i}`);
    return v;
  });
  assertPaced(stamps);
});

/** The stand-in camera served from an ffmpeg that draws the clock bars. */
function clockBarsCamera(extra: Partial<RtspServerOptions> = {}) {
  const mpegts = extra.stdinFormat === 'mpegts';
  return startRtspServer({
    codec: 'h264',
    source: 'stdin',
    feed: {
      command: 'ffmpeg',
      args: [
        ...['-v', 'error', '-nostdin', ...lavfi()],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(FPS)],
        ...['-threads', '1', '-flush_packets', '1'],
        // MPEG-TS with its PES lengths frames every picture; in Annex-B, delimiters let the
        // server close each frame as soon as the next one starts.
        ...(mpegts
          ? ['-omit_video_pes_length', '0', '-f', 'mpegts', 'pipe:1']
          : ['-bsf:v', 'h264_metadata=aud=insert', '-f', 'h264', 'pipe:1']),
      ],
    },
    ...extra,
  });
}

/** Reads `count` frames from `url` as they arrive; the latency of each is its arrival − stamp. */
async function viewerLatencies(url: string, count: number): Promise<number[]> {
  const { frames, arrivals } = await rgbaFrames(
    [
      ...['-rtsp_transport', 'tcp', '-fflags', 'nobuffer', '-flags', 'low_delay', '-threads', '1'],
      ...['-probesize', '32', '-analyzeduration', '0', '-i', url],
    ],
    count,
  );
  return frames.map((f, i) => {
    const v = decodeClockBars(f, W, H);
    assert.notEqual(v, null, `frame ${i} from ${url}: no stamp decoded`);
    return latencyMs(v as number, arrivals[i] as number);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

test('the stand-in camera serves an ffmpeg feed from stdin, stamps and all; framed, a frame sooner', async () => {
  const medians: number[] = [];
  for (const stdinFormat of ['annexb', 'mpegts'] as const) {
    const server = await clockBarsCamera({ stdinFormat });
    assert.ok(server.feedPid, 'the feed runs');
    const latencies = await viewerLatencies(server.url, 25);
    console.log(
      `RTSP stdin (${stdinFormat}) latency, stamp to frame decoded by an ffmpeg viewer (ms): ` +
        `median ${median(latencies)}, min ${Math.min(...latencies)}, max ${Math.max(...latencies)}; ` +
        `all: ${latencies.join(' ')}`,
    );
    for (const ms of latencies) assert.ok(ms >= 0 && ms <= 3000, `latency ${ms} ms`);
    medians.push(median(latencies));
    await server.stop();
  }
  // The framed feed holds no frame in the server's parser: at least half a frame interval sooner.
  const [annexb = 0, mpegts = 0] = medians;
  assert.ok(mpegts <= annexb - 1000 / FPS / 2, `annexb ${annexb} ms, mpegts ${mpegts} ms`);
});

test('restart() starts the feed again with the server; stop() ends both', async () => {
  const server = await clockBarsCamera();
  const [pid, feedPid] = [server.pid, server.feedPid];
  await server.restart();
  assert.ok(server.pid && server.feedPid);
  assert.notEqual(server.pid, pid);
  assert.notEqual(server.feedPid, feedPid);
  assert.ok(median(await viewerLatencies(server.url, 5)) <= 3000);
  const stoppedFeed = server.feedPid as number;
  await server.stop();
  assert.equal(server.pid, undefined);
  assert.equal(server.feedPid, undefined);
  assert.throws(() => process.kill(stoppedFeed, 0), /ESRCH/);
});

test('the end of the feed stops the server with an error', async () => {
  const server = await startRtspServer({
    source: 'stdin',
    feed: {
      command: 'ffmpeg',
      args: [
        ...['-v', 'error', '-nostdin', ...lavfi(), '-frames:v', '20'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-f', 'h264', 'pipe:1'],
      ],
    },
  });
  const deadline = Date.now() + 10_000;
  while (server.pid !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.pid, undefined, 'the server still runs after its feed ended');
  assert.match(server.stderr(), /the stream on stdin ended/);
});

test('an H.265 feed is served as H.265', async () => {
  const server = await startRtspServer({
    codec: 'h265',
    source: 'stdin',
    feed: {
      command: 'ffmpeg',
      args: [
        ...['-v', 'error', '-nostdin', ...lavfi(), '-c:v', 'libx265', '-preset', 'ultrafast'],
        ...['-tune', 'zerolatency', '-x265-params', 'log-level=error:pools=1:frame-threads=1'],
        ...['-bsf:v', 'hevc_metadata=aud=insert', '-f', 'hevc', 'pipe:1'],
      ],
    },
  });
  const { stdout } = await run(
    'ffprobe',
    [
      ...['-v', 'error', '-rtsp_transport', 'tcp', '-show_entries', 'stream=codec_name,width,height'],
      ...['-of', 'csv=p=0', server.url],
    ],
    { timeout: 20_000 },
  );
  assert.equal(stdout.trim(), `hevc,${W},${H}`);
});

test('a feed that writes nothing, or no H.264, fails the start with the reason', async () => {
  await assert.rejects(
    startRtspServer({ source: 'stdin', feed: { command: 'true', args: [] } }),
    /exited \(1\) before it was ready[\s\S]*ended before its first frame/,
  );
  await assert.rejects(
    startRtspServer({ source: 'stdin', feed: { command: 'echo', args: ['not a video'] } }),
    /exited \(1\) before it was ready[\s\S]*Annex-B h264/,
  );
  await assert.rejects(startRtspServer({ source: 'stdin' }), /`feed` goes with `source: 'stdin'`/);
});
