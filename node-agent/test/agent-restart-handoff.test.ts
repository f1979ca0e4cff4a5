/**
 * A real agent (main.ts) with `recorder.handoffS` records an RTSP camera that stamps every frame
 * with the wall clock (the clock bars); it is stopped with SIGTERM, as `systemctl restart` and an
 * upgrade stop it, and a new agent is started on the same spool. The recording ffmpeg must
 * outlive the first agent and be taken over by the second: every segment of the old run
 * uploaded once with its sha256, the footage continuous across the restart (no gap over one
 * segment, by the index and by the stamps in the frames). The same when the agent is killed
 * outright. Stopped for good, the last run ends by itself after its grace, its last segment
 * closed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { clockBarsFeed, latencyMs } from '../../bench/support/clock-bars.ts';
import { startService, tempDir, waitFor } from '../../test/support/index.ts';
import { ensureRtspServerAvailable, startRtspServer } from '../../test/support/rtsp-server.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { parsePlaylist } from '../src/spool/playlist.ts';
import { parseSegmentName, playlistName } from '../src/spool/segment.ts';
import { startBroker } from './broker.ts';
import { frameStamps, recorderRuns, startGatewayStandIn } from './recorder-runs.ts';

const NODE = 'restart-node';
const CAMERA = 'kept';
const SEGMENT_S = 2;
const W = 320;
const H = 180;
const FPS = 10;
// Long enough for an agent to start on a loaded CI host and record its first segment.
const HANDOFF_S = 15;

describe('an agent restart with recorder.handoffS', () => {
  before(() => ensureRtspServerAvailable());

  it('leaves the recording ffmpeg to the next agent: every segment uploaded, no gap over one segment', async (t) => {
    const server = await startRtspServer({
      codec: 'h264',
      source: 'stdin',
      stdinFormat: 'mpegts',
      feed: clockBarsFeed({ width: W, height: H, fps: FPS }, 'mpegts'),
    });
    const broker = await startBroker();
    const dir = await tempDir('agent-handoff-');
    const cameraDir = join(dir, 'spool', CAMERA);
    after(() => reapStaleFfmpeg(cameraDir, pino({ level: 'silent' })));

    // The gateway stand-in keeps what the real one indexes of each segment, and its bytes' hash.
    const { url: gatewayUrl, uploads } = await startGatewayStandIn();

    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      JSON.stringify({
        nodeId: NODE,
        mqtt: { url: broker.url },
        gateway: { url: gatewayUrl },
        spool: { dir: join(dir, 'spool') },
        stateDir: join(dir, 'state'),
        segmentSeconds: SEGMENT_S,
        recorder: { handoffS: HANDOFF_S },
        live: { enabled: false },
        cameras: [
          {
            id: CAMERA,
            name: 'Kept',
            url: server.url,
            record: { codec: 'source' },
            detect: { enabled: false },
          },
        ],
      }),
    );
    const runIdOf = (name: string) => parseSegmentName(name)?.runId ?? '';
    const startAgent = () => {
      const agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
      const exited = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
      return { agent, exited };
    };
    const failWith = (agent: ReturnType<typeof startService>) => (err: Error) => {
      throw new Error(`${err.message}\n${agent.output().slice(-6000)}`);
    };

    // The first agent records a few segments.
    const first = startAgent();
    await waitFor('three segments uploaded', () => uploads.length >= 3, 40_000).catch(failWith(first.agent));
    const [kept, ...more] = await recorderRuns(cameraDir);
    assert.ok(kept && more.length === 0, 'one recording ffmpeg');
    const oldRun = runIdOf(uploads[0]?.name ?? '');

    // Stopped as systemd stops it: the agent exits, its ffmpeg records on.
    const stoppedAt = Date.now();
    first.agent.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.ok(
      (await recorderRuns(cameraDir)).some((r) => r.pid === kept.pid),
      'the recording ffmpeg outlives its agent',
    );
    assert.match(first.agent.output(), /run left recording for the next agent/);

    /**
     * Waits until `agent` has taken over `run` (its keeper `pid`) and ended it, every segment of
     * it uploaded once with the bytes and the sha256 of its spool file; the run's last segment
     * and the next run's first, by start.
     */
    const takenOver = async (
      label: string,
      pid: number,
      run: string,
      agent: ReturnType<typeof startService>,
    ) => {
      await waitFor(
        `${label}: taken over and ended, the next run uploading`,
        async () =>
          !(await recorderRuns(cameraDir)).some((r) => r.pid === pid) &&
          uploads.filter((u) => runIdOf(u.name) > run).length >= 2,
        HANDOFF_S * 1000 + 20_000,
      ).catch(failWith(agent));
      assert.match(agent.output(), /taking over the run the previous agent left recording/);
      const playlist = parsePlaylist(await readFile(join(cameraDir, playlistName(run)), 'utf8'));
      assert.ok(playlist.ended, `${label}: the run closed its playlist: it finished, it was not killed`);
      const names = playlist.entries.map((e) => e.uri);
      await waitFor(`${label}: every segment uploaded`, () =>
        names.every((n) => uploads.some((u) => u.name === n)),
      ).catch(failWith(agent));
      for (const name of names) {
        const got = uploads.filter((u) => u.name === name);
        assert.equal(got.length, 1, `${name} uploaded once`);
        const spooled = createHash('sha256')
          .update(await readFile(join(cameraDir, name)))
          .digest('hex');
        assert.equal(got[0]?.sha256, spooled, `${name}: the sha256 sent is the file's`);
        assert.equal(got[0]?.bodySha256, spooled, `${name}: the bytes sent are the file's`);
      }
      const counters = names.map((n) => parseSegmentName(n)?.counter ?? -1);
      assert.deepEqual(
        counters,
        counters.map((_, i) => i),
        `${label}: the run's segments are all there, in order`,
      );
      const sorted = [...uploads].sort((a, b) => a.startMs - b.startMs);
      const last = sorted.filter((u) => runIdOf(u.name) === run).at(-1);
      const next = sorted.find((u) => runIdOf(u.name) > run);
      assert.ok(last && next);
      return { names, last, next, gapMs: next.startMs - (last.startMs + last.durationMs) };
    };

    // The next agent takes it over, then ends it once its own run has a segment.
    await new Promise((r) => setTimeout(r, 1500)); // a restart's pause
    const second = startAgent();
    const restart = await takenOver('after SIGTERM', kept.pid, oldRun, second.agent);
    const takenOverS = (Date.now() - stoppedAt) / 1000;

    // Continuous footage: by the index, and by the clock in the frames.
    const size = { width: W, height: H };
    const lastFrame = (await frameStamps(cameraDir, restart.last.name, dir, size))
      .filter((v) => v !== null)
      .at(-1);
    const firstFrame = (await frameStamps(cameraDir, restart.next.name, dir, size)).find((v) => v !== null);
    assert.ok(lastFrame !== undefined && firstFrame !== undefined, 'both segments carry the clock bars');
    const footageGapMs = latencyMs(lastFrame, firstFrame) - 1000 / FPS;
    t.diagnostic(
      `old run ${restart.names.length} segments, taken over and ended ${takenOverS.toFixed(1)} s after the SIGTERM; ` +
        `gap ${restart.gapMs} ms as indexed, ${footageGapMs} ms in the footage (negative: the runs overlap)`,
    );
    assert.ok(restart.gapMs <= SEGMENT_S * 1000, `indexed gap ${restart.gapMs} ms`);
    assert.ok(footageGapMs <= SEGMENT_S * 1000, `footage gap ${footageGapMs} ms`);

    // An agent killed outright (a crash, the OOM killer): its run records on all the same, and
    // the agent started after it takes it over.
    const [crashedKept] = await recorderRuns(cameraDir);
    assert.ok(crashedKept);
    const crashedRun = runIdOf(restart.next.name);
    second.agent.kill('SIGKILL');
    await second.exited;
    const third = startAgent();
    const crash = await takenOver('after SIGKILL', crashedKept.pid, crashedRun, third.agent);
    t.diagnostic(`after kill -9 of the agent: gap ${crash.gapMs} ms as indexed`);
    assert.ok(crash.gapMs <= SEGMENT_S * 1000, `indexed gap after the kill ${crash.gapMs} ms`);

    // Stopped for good: no agent comes back, the run ends by itself after its grace.
    third.agent.kill('SIGTERM');
    assert.equal(await third.exited, 0);
    const lastRun = runIdOf(uploads.at(-1)?.name ?? '');
    await waitFor(
      'the last run ended after its grace',
      async () => (await recorderRuns(cameraDir)).length === 0,
      HANDOFF_S * 1000 + 15_000,
    );
    const lastPlaylist = parsePlaylist(await readFile(join(cameraDir, playlistName(lastRun)), 'utf8'));
    assert.ok(lastPlaylist.ended, 'asked to finish, it closed its last segment');
  });
});
