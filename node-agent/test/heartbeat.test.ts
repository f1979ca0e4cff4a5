/** Heartbeats from the builder, with the real host sampler, validated with the master's validator. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type LiveHeartbeat, validators } from '@cctv/protocol';
import { HostSampler } from '../src/host/host-sampler.ts';
import { type CameraFigures, heartbeatBuilder } from '../src/link/heartbeat.ts';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const base = {
  state: 'recording' as const,
  fps: 10,
  bitrateKbps: 120,
  lastSegmentAt: new Date('2026-11-23T10:15:00.000Z'),
  segmentsRecorded: 7,
};

describe('heartbeat builder', () => {
  it('sends host, agent and per-camera figures that the master accepts', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'heartbeat-'));
    dirs.push(spoolDir);
    await mkdir(join(spoolDir, 'front'));
    await writeFile(join(spoolDir, 'front', 'a.m4s'), Buffer.alloc(5000));
    // Stands in for a camera's ffmpeg: a detached child of this process.
    const ffmpeg = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    children.push(ffmpeg);
    assert.ok(ffmpeg.pid);

    const cameras: CameraFigures[] = [
      {
        id: 'front',
        ...base,
        backlog: { files: 2, bytes: 5000, oldestAt: new Date('2026-11-23T10:14:00.000Z') },
        droppedSegments: 3,
        restarts: 1,
        transport: 'tcp',
        mode: 'copy',
        encoder: 'copy',
        ffmpegPid: ffmpeg.pid,
      },
      // What an older recorder/uploader gives: defaults fill the rest.
      {
        id: 'back',
        ...base,
        state: 'reconnecting',
        reason: 'ffmpeg exited',
        backlog: { files: 0, bytes: 0 },
      },
      // Files waiting but no age known: the age is left out, not claimed to be null.
      { id: 'side', ...base, mode: null, encoder: null, backlog: { files: 4, bytes: 10 } },
    ];
    let clock = 0;
    const host = new HostSampler({ spoolDir, now: () => clock });
    const next = heartbeatBuilder({
      spoolDir,
      cameras: () => cameras,
      host,
      now: () => new Date('2026-11-23T10:15:05.000Z'),
      uptimeS: () => 42.04,
    });

    const hb = await next();
    const checked = validators.heartbeat.validate(JSON.parse(JSON.stringify(hb)));
    assert.ok(checked.ok, checked.ok ? '' : checked.error);
    assert.equal(hb.seq, 0);
    assert.equal(hb.at, '2026-11-23T10:15:05.000Z');
    assert.equal(hb.uptimeS, 42);
    assert.ok(hb.host && hb.agent);
    assert.ok(hb.host.cpuPercent >= 0 && hb.host.cpuPercent <= 100);
    assert.ok(hb.host.memAvailableBytes > 0 && hb.host.memTotalBytes >= hb.host.memAvailableBytes);
    assert.ok(hb.host.uptimeS > hb.agent.uptimeS);
    assert.equal(hb.agent.uptimeS, 42);
    assert.ok(hb.agent.children >= 1);
    assert.ok(hb.agent.rssBytes > hb.agent.selfRssBytes, 'children are counted in');
    // The older fields carry the same figures.
    assert.equal(hb.cpu.percent, hb.agent.cpuPercent);
    assert.equal(hb.mem.rssBytes, hb.agent.rssBytes);
    assert.equal(hb.mem.freeBytes, hb.host.memAvailableBytes);
    assert.equal(hb.cpu.load1, hb.host.load1);
    assert.equal(hb.disk.spoolUsedBytes, 5000);
    assert.equal('live' in hb, false, 'no live source, no live field (as from an older agent)');
    assert.ok((hb.disk.spoolTotalBytes ?? 0) >= hb.disk.spoolFreeBytes);

    const [front, back, side] = hb.cameras;
    assert.ok(front && back && side);
    assert.equal(front.backlogOldestAt, '2026-11-23T10:14:00.000Z');
    assert.equal(front.droppedSegments, 3);
    assert.equal(front.restarts, 1);
    assert.equal(front.transport, 'tcp');
    assert.equal(front.mode, 'copy');
    assert.equal(front.encoder, 'copy');
    assert.ok((front.rssBytes ?? 0) > 0, 'the camera gets its ffmpeg memory');
    assert.ok((front.cpuPercent ?? -1) >= 0);

    assert.deepEqual(
      {
        backlogOldestAt: back.backlogOldestAt,
        droppedSegments: back.droppedSegments,
        restarts: back.restarts,
        transport: back.transport,
        reason: back.reason,
      },
      { backlogOldestAt: null, droppedSegments: 0, restarts: 0, transport: null, reason: 'ffmpeg exited' },
    );
    for (const key of ['mode', 'encoder', 'cpuPercent', 'rssBytes']) assert.equal(key in back, false, key);
    assert.equal('backlogOldestAt' in side, false);
    assert.equal('mode' in side, false);

    // The camera whose ffmpeg is gone (between restarts) has no process figures.
    ffmpeg.kill('SIGKILL');
    await new Promise((resolve) => ffmpeg.once('exit', resolve));
    clock += 1000; // past the sampler's minimum interval
    const later = await next();
    assert.equal(later.seq, 1);
    assert.equal('cpuPercent' in (later.cameras[0] ?? {}), false);
    assert.ok(validators.heartbeat.check(JSON.parse(JSON.stringify(later))));
  });

  it('says whether live view is available, with the reason cut to what the master takes', async () => {
    const spoolDir = await mkdtemp(join(tmpdir(), 'heartbeat-'));
    dirs.push(spoolDir);
    let live: LiveHeartbeat = {
      jsmpeg: 'unavailable',
      webrtc: 'ok',
      reason: `jsmpeg: cannot listen on ${'x'.repeat(400)}`,
    };
    const next = heartbeatBuilder({ spoolDir, cameras: () => [], live: () => live });
    const down = await next();
    const checked = validators.heartbeat.validate(JSON.parse(JSON.stringify(down)));
    assert.ok(checked.ok, checked.ok ? '' : checked.error);
    assert.equal(down.live?.jsmpeg, 'unavailable');
    assert.equal(down.live?.webrtc, 'ok');
    assert.equal(down.live?.reason?.length, 300);

    live = { jsmpeg: 'ok', webrtc: 'disabled' };
    const up = await next();
    assert.deepEqual(up.live, { jsmpeg: 'ok', webrtc: 'disabled' });
    assert.ok(validators.heartbeat.check(JSON.parse(JSON.stringify(up))));
    // The schema holds the agent to the three states.
    assert.equal(validators.heartbeat.check({ ...up, live: { jsmpeg: 'busy', webrtc: 'ok' } }), false);
  });
});
