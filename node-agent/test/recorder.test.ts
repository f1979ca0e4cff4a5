import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { processAlive, tempDir, waitFor } from '../../test/support/index.ts';
import { findFont, probeVideo } from '../src/host/ffmpeg-info.ts';
import { SupervisedChild } from '../src/process/supervised-child.ts';
import { type PlanDeps, SourcePlanner } from '../src/recorder/camera-plan.ts';
import { countSamples } from '../src/recorder/fmp4-samples.ts';
import { Recorder } from '../src/recorder/recorder.ts';
import { SimulatedPlanner } from '../src/recorder/simulated-plan.ts';
import { notePid, reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { TransportMemory } from '../src/recorder/transport-memory.ts';
import { type FinishedSegment, parseSegmentName } from '../src/spool/segment.ts';

const run = promisify(execFile);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

async function probe(segment: FinishedSegment, dir: string) {
  const joined = join(dir, `probe-${segment.name}.mp4`);
  await writeFile(joined, Buffer.concat([await readFile(segment.initPath), await readFile(segment.path)]));
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'stream=codec_name,codec_tag_string,width,height:packet=pts_time,duration_time',
    '-of',
    'json',
    joined,
  ]);
  return JSON.parse(stdout) as {
    streams: { codec_name: string; codec_tag_string: string; width: number; height: number }[];
    packets: { pts_time: string; duration_time: string }[];
  };
}

describe('supervised child', () => {
  it('restarts an exiting child with backoff, keeps its stderr tail, and stops', async () => {
    const exits: { expected: boolean; tail: string[]; restartInMs: number | null }[] = [];
    const child = new SupervisedChild({
      name: 'flaky',
      prepare: () => ({ command: 'sh', args: ['-c', 'echo "went wrong $$" >&2; exit 3'] }),
      logger,
      backoff: { initialMs: 20, maxMs: 80 },
      onExit: (e) => exits.push({ expected: e.expected, tail: e.stderrTail, restartInMs: e.restartInMs }),
    });
    after(() => child.stop());
    child.start();
    await waitFor('three unexpected exits', () => exits.length >= 4);
    await child.stop();
    // A run that ends while stop() is under way counts as expected; the first four did not.
    assert.ok(exits.slice(0, 4).every((e) => !e.expected));
    assert.deepEqual(
      exits.slice(0, 4).map((e) => e.restartInMs),
      [20, 40, 80, 80],
    );
    assert.match(exits[0]?.tail[0] ?? '', /^went wrong \d+$/);
    assert.equal(child.running, false);
  });

  it('stop() resolves only once the process is gone', async () => {
    const child = new SupervisedChild({
      name: 'sleeper',
      prepare: () => ({ command: 'sleep', args: ['30'] }),
      logger,
    });
    after(() => child.stop());
    child.start();
    await waitFor('spawned', () => child.pid !== undefined);
    const pid = child.pid;
    assert.ok(pid && processAlive(pid));
    await child.stop();
    assert.equal(processAlive(pid), false);
  });

  it('ends a run that stops showing progress as stalled, and a prepare failure as a failed start', async () => {
    const exits: { cause: string; detail: string }[] = [];
    let prepares = 0;
    const child = new SupervisedChild({
      name: 'quiet',
      prepare: () => {
        prepares++;
        if (prepares === 2) throw new Error('camera unreachable: connection refused');
        return { command: 'sleep', args: ['30'] };
      },
      logger,
      stallAfterMs: 300,
      backoff: { initialMs: 20, maxMs: 20 },
      onExit: (e) => exits.push({ cause: e.cause, detail: e.detail }),
    });
    after(() => child.stop());
    child.start();
    await waitFor('stall, failed prepare, stall', () => exits.length >= 3, 10_000);
    await child.stop();
    assert.deepEqual(
      exits.slice(0, 3).map((e) => e.cause),
      ['stall', 'prepare-failed', 'stall'],
    );
    assert.match(exits[0]?.detail ?? '', /^stalled: no progress for \d+ s$/);
    assert.equal(exits[1]?.detail, 'camera unreachable: connection refused');
  });
});

describe('leftover ffmpeg from a hard-killed agent', () => {
  it('is ended on the next start, and only when it writes into this camera folder', async () => {
    const dir = await tempDir('agent-stale-');
    const args = ['-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=32x32:rate=1'];
    const stale = spawn('ffmpeg', [...args, '-f', 'hls', `${dir}/x.m3u8`], { stdio: 'ignore' });
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore' });
    after(() => {
      stale.kill('SIGKILL');
      unrelated.kill('SIGKILL');
    });
    const gone = new Promise((r) => stale.once('exit', r));
    await waitFor('ffmpeg running', () => processAlive(stale.pid ?? 0));
    await notePid(dir, unrelated.pid);
    await reapStaleFfmpeg(dir, logger);
    assert.ok(processAlive(unrelated.pid ?? 0), 'a pid that is not our ffmpeg is left alone');
    await notePid(dir, stale.pid);
    await reapStaleFfmpeg(dir, logger);
    await gone;
  });
});

describe('recorder with the simulated camera (real ffmpeg)', () => {
  it('writes hvc1 HEVC fMP4 segments of segmentSeconds, survives an ffmpeg crash, stops cleanly', async () => {
    const spoolDir = await tempDir('agent-rec-');
    const planner = new SimulatedPlanner(
      'rec-test-sim',
      { width: 320, height: 180, fps: 10 },
      await findFont(),
      {
        segmentSeconds: 1,
        x265Preset: 'ultrafast',
      },
    );
    const segments: FinishedSegment[] = [];
    const states: string[] = [];
    const recorder = new Recorder({
      planner,
      spoolDir,
      segmentSeconds: 1,
      logger,
      pollMs: 200,
      backoff: { initialMs: 100, maxMs: 1000 },
      onSegment: (s) => segments.push(s),
      onState: (s) => states.push(s),
    });
    after(() => recorder.stop());
    await recorder.start();
    await waitFor('two finished segments', () => segments.length >= 2, 15_000);
    assert.equal(recorder.status().state, 'recording');

    const firstRun = parseSegmentName(segments[0]?.name ?? '')?.runId;
    const pid = recorder.ffmpegPid;
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await waitFor(
      'a segment from a new ffmpeg run',
      () => segments.some((s) => parseSegmentName(s.name)?.runId !== firstRun),
      15_000,
    );
    assert.ok(states.includes('reconnecting'), states.join(','));

    const before = segments.length;
    const secondPid = recorder.ffmpegPid;
    await recorder.stop();
    assert.ok(secondPid && !processAlive(secondPid), 'ffmpeg is gone after stop()');
    assert.equal(recorder.status().state, 'stopped');
    assert.ok(segments.length > before, 'the last segment is finished and reported on stop');

    const names = new Set(segments.map((s) => s.name));
    assert.equal(names.size, segments.length, 'names are unique across runs');
    for (const s of segments.slice(0, 2)) {
      assert.ok(Math.abs(s.durationMs - 1000) <= 150, `duration ${s.durationMs}`);
      assert.ok(s.bytes > 0);
      assert.ok(Math.abs(s.startAt.getTime() - Date.now()) < 60_000);
      const frames = await countSamples(s.path);
      assert.ok(frames >= 9 && frames <= 11, `frames ${frames}`);
      const info = await probe(s, spoolDir);
      assert.equal(info.streams[0]?.codec_name, 'hevc');
      assert.equal(info.streams[0]?.codec_tag_string, 'hvc1');
      assert.equal(info.streams[0]?.width, 320);
      // Media time covered by the segment's packets (B-frames reorder pts, so take the span).
      const starts = info.packets.map((p) => Number(p.pts_time));
      const ends = info.packets.map((p) => Number(p.pts_time) + Number(p.duration_time));
      const span = Math.max(...ends) - Math.min(...starts);
      assert.ok(Math.abs(span - 1) <= 0.15, `probed span ${span}`);
    }
    const status = recorder.status();
    assert.ok(status.segmentsRecorded >= 3);
    assert.ok(status.fps > 5 && status.fps <= 10.5, `fps ${status.fps}`);
    assert.ok(status.bitrateKbps > 0);
  });
});

describe('camera sources (real ffprobe)', () => {
  it('records an HEVC source with -c copy and encodes an H.264 one, saying why', async () => {
    const dir = await tempDir('agent-src-');
    const make = (file: string, codec: string[]) =>
      run('ffmpeg', [
        ...['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10', '-t', '4'],
        ...codec,
        join(dir, file),
      ]);
    await make('hevc.mp4', [
      '-c:v',
      'libx265',
      '-preset',
      'ultrafast',
      '-x265-params',
      'keyint=10:log-level=error',
    ]);
    await make('h264.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10']);
    const deps: PlanDeps = {
      probe: (input, timeoutMs) => probeVideo(input, timeoutMs),
      memory: new TransportMemory(join(dir, 'state')),
      piCameraCommand: async () => null,
    };
    const settings = {
      segmentSeconds: 1,
      probeTimeoutS: 5,
      readTimeoutS: 5,
      hevcEncoder: 'auto' as const,
      x265Preset: 'ultrafast',
      hwEncoders: [],
    };
    const planner = (id: string, file: string) =>
      new SourcePlanner({ id, name: id, url: join(dir, file) }, settings, deps);
    const h264 = await planner('h264', 'h264.mp4').prepare();
    assert.equal(h264.info.codec, 'h264');
    assert.equal(h264.info.recording.mode, 'transcode');
    assert.match(h264.info.recording.reason, /source is h264/);
    assert.ok(h264.encodeArgs.includes('keyint=10:min-keyint=10:scenecut=0:open-gop=0:log-level=error'));
    const missing = planner('gone', 'nope.mp4');
    await assert.rejects(missing.prepare(), /No such file or directory/);
    assert.match(missing.info().recording.reason, /^unreachable: /);

    const hevcPlanner = planner('hevc', 'hevc.mp4');
    const hevc = await hevcPlanner.prepare();
    assert.deepEqual(
      { codec: hevc.info.codec, width: hevc.info.width, fps: hevc.info.fps, mode: hevc.info.recording.mode },
      { codec: 'hevc', width: 160, fps: 10, mode: 'copy' },
    );
    const segments: FinishedSegment[] = [];
    const recorder = new Recorder({
      planner: hevcPlanner,
      spoolDir: dir,
      segmentSeconds: 1,
      logger,
      pollMs: 200,
      onSegment: (s) => segments.push(s),
    });
    after(() => recorder.stop());
    await recorder.start();
    await waitFor('a copied segment', () => segments.length >= 1, 15_000);
    await recorder.stop();
    const first = segments[0];
    assert.ok(first);
    const info = await probe(first, dir);
    assert.equal(info.streams[0]?.codec_name, 'hevc');
    assert.equal(info.streams[0]?.codec_tag_string, 'hvc1');
  });
});
