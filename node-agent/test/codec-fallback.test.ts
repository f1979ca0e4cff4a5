/**
 * The fallback from software H.265 to the camera's own codec: the watch's verdicts on fed
 * progress and CPU (time injected), the codec policy and the planner after a verdict, and a
 * supervised child replaced at once by a new run while the old one finishes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { processAlive, tempDir, waitFor } from '../../test/support/index.ts';
import type { StreamInfo } from '../src/host/ffmpeg-info.ts';
import { SupervisedChild } from '../src/process/supervised-child.ts';
import { type PlanDeps, SourcePlanner } from '../src/recorder/camera-plan.ts';
import { decideCodec } from '../src/recorder/codec-policy.ts';
import { EncodeWatch, type EncodeWatchSettings } from '../src/recorder/encode-watch.ts';
import { runCpu } from '../src/recorder/ffmpeg-cpu.ts';
import { TransportMemory } from '../src/recorder/transport-memory.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** The shipped defaults, for 2 s segments. */
const SETTINGS: EncodeWatchSettings = {
  minSpeed: 0.9,
  warmupS: 1,
  windowS: 10,
  maxLagS: 0.5,
  minSpanS: 2,
  cpuBudgetPercent: 80,
  cores: 2,
};

/**
 * Feeds one progress block a second at `speed` (output seconds per second) and, when given,
 * CPU at `cpuPerS` seconds a second and waiting for a CPU at `waitAt(s)`; returns the second the
 * verdict came at, and the verdict.
 */
function feed(
  watch: EncodeWatch,
  seconds: number,
  speedAt: (s: number) => number,
  cpuPerS?: number,
  waitAt?: (s: number) => number,
) {
  let out = 0;
  let cpu = 0;
  let wait = 0;
  for (let s = 1; s <= seconds; s++) {
    out += speedAt(s);
    watch.progress(s * 1000, out);
    if (cpuPerS !== undefined) {
      cpu += cpuPerS;
      wait += waitAt?.(s) ?? 0;
      watch.cpu(s * 1000, cpu, waitAt ? wait : null);
    }
    const verdict = watch.verdict();
    if (verdict) return { at: s, verdict };
  }
  return { at: null, verdict: null };
}

describe('encode watch', () => {
  it('leaves an encode that holds real time alone, however long it runs', () => {
    const watch = new EncodeWatch(SETTINGS);
    // ±3 % jitter, and a CPU under the budget (1.5 of 2 cores allowed at 80 %: 1.6)
    const r = feed(watch, 120, (s) => (s % 2 ? 1.03 : 0.97), 1.5);
    assert.equal(r.verdict, null);
  });

  it('condemns a slow encode once it is a quarter segment behind, not before its warm-up', () => {
    const watch = new EncodeWatch(SETTINGS);
    const r = feed(watch, 60, () => 0.6, 0.1);
    assert.ok(r.verdict);
    // First output at 1 s, warm-up to 2 s, then 0.4 s lost a second: 0.8 s behind at 4 s.
    assert.equal(r.at, 4);
    assert.equal(r.verdict.cause, 'speed');
    assert.ok(Math.abs(r.verdict.speed - 0.6) < 0.01);
    assert.ok(r.verdict.lagS >= 0.5 && r.verdict.lagS < 1);
    assert.ok(r.verdict.cpuPercent !== null && Math.abs(r.verdict.cpuPercent - 10) < 0.5);
    assert.equal(
      r.verdict.text,
      'libx265 could not hold real time (speed 0.60× over 2 s, 0.8 s behind, ffmpeg 10 % of a core)',
    );
  });

  it('judges a nearly-real-time encode over its window, and spares one within the threshold', () => {
    const slow = feed(new EncodeWatch(SETTINGS), 60, () => 0.88);
    assert.ok(slow.verdict);
    // 0.12 s lost a second from 2 s: half a second behind at about 7 s.
    assert.ok(slow.at !== null && slow.at >= 6 && slow.at <= 8, `verdict at ${slow.at} s`);
    const fine = feed(new EncodeWatch(SETTINGS), 120, () => 0.93);
    assert.equal(fine.verdict, null);
  });

  it('does not take a camera going quiet for an overloaded encoder: the encoder slept', () => {
    // Real time, then 3 s without a frame (the network), then the burst that catches up; the
    // ffmpeg asleep meanwhile (0.05 of a core, no waiting).
    const quiet = (s: number) => (s >= 20 && s < 23 ? 0 : s === 23 ? 4 : 1);
    assert.equal(feed(new EncodeWatch(SETTINGS), 60, quiet, 0.05, () => 0).verdict, null);
    // The same output from an encoder that waited for a CPU all along is starved: condemned.
    const starved = feed(new EncodeWatch(SETTINGS), 60, quiet, 0.05, () => 0.95);
    assert.equal(starved.at, 20);
    // A CPU quota: 4 % of a core, runnable the rest of the time, half speed.
    const quota = feed(
      new EncodeWatch(SETTINGS),
      60,
      () => 0.5,
      0.04,
      () => 0.96,
    );
    assert.equal(quota.verdict?.cause, 'speed');
  });

  it('slow frames during the warm-up do not count', () => {
    const watch = new EncodeWatch({ ...SETTINGS, warmupS: 3 });
    const r = feed(watch, 40, (s) => (s <= 3 ? 0.2 : 1));
    assert.equal(r.verdict, null);
  });

  it('condemns an encode over its CPU budget after a whole window, and never with the budget off', () => {
    // 2 cores × 80 % = 160 % of a core allowed; 1.8 cores used while keeping real time.
    const over = feed(new EncodeWatch(SETTINGS), 60, () => 1, 1.8);
    assert.ok(over.verdict);
    assert.equal(over.verdict.cause, 'cpu');
    // Measured from the warm-up's end (2 s) over a whole window.
    assert.ok(over.at !== null && over.at >= 10 && over.at <= 12, `verdict at ${over.at} s`);
    assert.match(
      over.verdict.text,
      /^libx265 took 90 % of the host over (9|10) s, over its budget of 80 % \(ffmpeg 180 % of a core\)$/,
    );
    const off = feed(new EncodeWatch({ ...SETTINGS, cpuBudgetPercent: 0 }), 60, () => 1, 1.8);
    assert.equal(off.verdict, null);
    const speedOff = feed(new EncodeWatch({ ...SETTINGS, minSpeed: 0, cpuBudgetPercent: 0 }), 60, () => 0.3);
    assert.equal(speedOff.verdict, null);
  });

  it('reads a real process tree’s CPU time from /proc', async () => {
    const own = await runCpu(process.pid);
    assert.ok(own !== null && own.cpuS > 0 && own.waitS !== null && own.waitS >= 0);
    assert.equal(await runCpu(2 ** 22 + 7), null);
  });
});

describe('codec policy after an overload', () => {
  const base = {
    width: 1920,
    height: 1080,
    fps: 15,
    target: 'hevc' as const,
    hwEncoders: [] as string[],
    encoder: 'auto' as const,
    hwFailed: false,
    gop: 30,
    x265Preset: 'ultrafast',
  };
  const why = 'libx265 could not hold real time (speed 0.60× over 3 s, 1.2 s behind)';

  it('stores H.264 as sent once libx265 was too slow, and says why', () => {
    const before = decideCodec({ ...base, sourceCodec: 'h264' });
    assert.deepEqual([before.encoder, before.canFallBack], ['libx265', true]);
    const after = decideCodec({ ...base, sourceCodec: 'h264', softwareOverloaded: why });
    assert.deepEqual([after.mode, after.encoder, after.outputCodec], ['copy', 'copy', 'h264']);
    assert.deepEqual(after.args, ['-c:v', 'copy', '-tag:v', 'avc1']);
    assert.equal(after.reason, `${why}: H.264 stored as sent`);
    assert.equal(after.fallback, why);
  });

  it('still tries the hardware encoder first, and keeps encoding what cannot be stored as sent', () => {
    const hw = decideCodec({
      ...base,
      sourceCodec: 'h264',
      hwEncoders: ['hevc_v4l2m2m'],
      softwareOverloaded: why,
    });
    assert.deepEqual([hw.encoder, hw.canFallBack], ['hevc_v4l2m2m', false]);
    const mjpeg = decideCodec({ ...base, sourceCodec: 'mjpeg', softwareOverloaded: why });
    assert.deepEqual([mjpeg.encoder, mjpeg.canFallBack], ['libx265', false]);
    const hevc = decideCodec({ ...base, sourceCodec: 'hevc' });
    assert.equal(hevc.canFallBack, false);
  });

  it('the planner rebuilds its run as a copy without probing again, and hello says why', async () => {
    let probes = 0;
    const stream: StreamInfo = { codec: 'h264', width: 640, height: 360, fps: 15 };
    const deps: PlanDeps = {
      probe: async () => {
        probes++;
        return stream;
      },
      memory: new TransportMemory(await tempDir('agent-fallback-')),
      piCameraCommand: async () => null,
    };
    const planner = new SourcePlanner(
      { id: 'cam', name: 'Cam', url: 'rtsp://127.0.0.1:9/stream', transports: ['tcp'] },
      {
        segmentSeconds: 2,
        probeTimeoutS: 1,
        readTimeoutS: 5,
        hevcEncoder: 'auto',
        x265Preset: 'ultrafast',
        hwEncoders: [],
        x265Watch: SETTINGS,
      },
      deps,
    );
    const first = await planner.prepare();
    assert.equal(first.info.recording.encoder, 'libx265');
    assert.deepEqual(first.watch, SETTINGS);
    planner.runProduced();
    assert.equal(planner.encodeOverloaded(why), true);
    const second = await planner.prepare();
    assert.equal(probes, 1);
    assert.deepEqual(
      [second.info.recording.mode, second.outputCodec, second.watch],
      ['copy', 'h264', undefined],
    );
    assert.equal(second.fallback, why);
    assert.equal(planner.info().recording.reason, `${why}: H.264 stored as sent over RTSP/TCP`);
    // A copy has nothing to fall back from.
    assert.equal(planner.encodeOverloaded(why), false);
  });
});

describe('supervised child replaced by a new run', () => {
  it('starts the new run at once, ends the old one when told, and stop() waits for both', async () => {
    const exits: string[] = [];
    let runs = 0;
    const retired: number[] = [];
    // Finishes 300 ms after its quit key, like ffmpeg closing its last segment.
    const script =
      'process.stdin.on("data",()=>setTimeout(()=>process.exit(0),300));setInterval(()=>{},1000)';
    const child = new SupervisedChild({
      name: 'replaced',
      prepare: () => {
        runs++;
        return { command: process.execPath, args: ['-e', script] };
      },
      logger,
      quitKey: 'q',
      backoff: { initialMs: 5000, maxMs: 5000 },
      onExit: (e) => exits.push(e.cause),
    });
    after(() => child.stop());
    child.start();
    await waitFor('first run', () => child.pid !== undefined);
    const old = child.pid as number;
    const startedAt = Date.now();
    const retire = child.replace('too slow', () => retired.push(Date.now()));
    assert.ok(retire);
    await waitFor('second run', () => child.pid !== undefined && child.pid !== old, 5000);
    // No backoff (5 s) before the new run, and the old one still running beside it.
    assert.ok(Date.now() - startedAt < 2000);
    assert.equal(runs, 2);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(processAlive(old) && retired.length === 0);
    retire();
    await waitFor('old run gone', () => retired.length === 1, 5000);
    assert.equal(processAlive(old), false);
    const current = child.pid as number;
    await child.stop();
    assert.equal(processAlive(current), false);
    // Neither the replaced run nor the stopped one counts as an unexpected end.
    assert.deepEqual(exits, ['exit']);
  });
});
