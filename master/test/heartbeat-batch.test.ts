import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import type { HeartbeatMessage, HelloMessage } from '@cctv/protocol';
import { pino } from 'pino';
import { onCleanup, startTestDatabase } from '../../test/support/index.ts';
import { HeartbeatBatcher, type PendingHeartbeat } from '../src/fleet/heartbeat-batcher.ts';
import { NodeRepository } from '../src/fleet/node-repository.ts';
import { FleetRegistry } from '../src/fleet/registry.ts';

const log = pino({ level: 'silent' });

function hello(nodeId: string): HelloMessage {
  return {
    protocolVersion: 1,
    nodeId,
    agentVersion: '1.0.0',
    at: new Date().toISOString(),
    host: { hostname: nodeId, platform: 'linux', arch: 'arm64', cpus: 4, memTotalBytes: 1e9 },
    capabilities: { ffmpegVersion: '5.1', hwEncoders: [] },
    cameras: [
      {
        id: `${nodeId}-cam`,
        name: 'Cam',
        codec: 'hevc',
        width: 1920,
        height: 1080,
        fps: 15,
        simulated: false,
        recording: { mode: 'copy', encoder: 'copy', reason: 'test' },
      },
    ],
  };
}

function beat(seq: number, cameraId: string, state: 'recording' | 'failed'): HeartbeatMessage {
  return {
    seq,
    at: new Date().toISOString(),
    uptimeS: seq,
    cpu: { percent: 1, load1: 0 },
    mem: { rssBytes: 1, totalBytes: 2, freeBytes: 1 },
    tempC: null,
    disk: { spoolFreeBytes: 1, spoolUsedBytes: 0 },
    cameras: [
      {
        id: cameraId,
        state,
        fps: 15,
        bitrateKbps: 1,
        lastSegmentAt: null,
        segmentsRecorded: seq,
        backlogFiles: 0,
        backlogBytes: 0,
      },
    ],
  };
}

describe('heartbeat batches', () => {
  it('writes the newest heartbeat of each known node and camera states in one go; unknown nodes are reported', async () => {
    const db = createPrismaClient((await startTestDatabase()).url, 2);
    onCleanup(() => db.$disconnect());
    const repo = new NodeRepository(db);
    await repo.applyHello(hello('hb-a'), new Date());
    await repo.applyHello(hello('hb-b'), new Date());
    const unknown: string[] = [];
    const stored: string[][] = [];
    const batcher = new HeartbeatBatcher({
      write: (b) => repo.applyHeartbeats(b),
      onStored: (ids) => stored.push(ids.sort()),
      onUnknown: (id) => unknown.push(id),
      log,
      intervalMs: 60_000,
    });
    batcher.accept('hb-a', beat(1, 'hb-a-cam', 'recording'), new Date());
    batcher.accept('hb-a', beat(2, 'hb-a-cam', 'failed'), new Date()); // replaces seq 1
    batcher.accept('hb-b', beat(7, 'hb-b-cam', 'recording'), new Date());
    batcher.accept('hb-x', beat(1, 'hb-x-cam', 'recording'), new Date());
    assert.equal(batcher.waiting, 3);
    await batcher.flush();
    assert.deepEqual(stored, [['hb-a', 'hb-b']]);
    assert.deepEqual(unknown, ['hb-x']);
    const [a, b] = await repo
      .getMany(['hb-a', 'hb-b'])
      .then((v) => v.sort((x, y) => x.id.localeCompare(y.id)));
    assert.equal((a?.heartbeat as HeartbeatMessage | undefined)?.seq, 2);
    assert.equal(a?.cameras[0]?.state, 'failed');
    assert.equal(b?.cameras[0]?.state, 'recording');
    assert.ok(a?.lastHeartbeatAt);
    await batcher.stop();
  });

  it('keeps a failed batch for the next flush unless a newer heartbeat replaced it', async () => {
    let fail = true;
    const written: PendingHeartbeat[][] = [];
    const batcher = new HeartbeatBatcher({
      write: async (b) => {
        if (fail) throw new Error('database down');
        written.push(b);
        return b.map((p) => p.nodeId);
      },
      log,
      intervalMs: 60_000,
    });
    batcher.accept('n1', beat(1, 'c1', 'recording'), new Date());
    batcher.accept('n2', beat(1, 'c2', 'recording'), new Date());
    await batcher.flush();
    batcher.accept('n2', beat(2, 'c2', 'recording'), new Date());
    fail = false;
    await batcher.flush();
    const seqs = Object.fromEntries((written[0] ?? []).map((p) => [p.nodeId, p.heartbeat.seq]));
    assert.deepEqual(seqs, { n1: 1, n2: 2 });
    await batcher.stop();
  });

  it('holds a heartbeat until the hello that came before it is stored, across several flushes', async () => {
    const db = createPrismaClient((await startTestDatabase()).url, 2);
    onCleanup(() => db.$disconnect());
    // A hello that takes longer than several batch intervals to store.
    class SlowHelloRepository extends NodeRepository {
      override async applyHello(msg: HelloMessage, at: Date) {
        await new Promise((r) => setTimeout(r, 250));
        return super.applyHello(msg, at);
      }
    }
    const unknown: string[] = [];
    const registry = new FleetRegistry(
      new SlowHelloRepository(db),
      log,
      { onUnknownHeartbeat: (id) => unknown.push(id) },
      () => new Date(),
      20,
    );
    onCleanup(() => registry.stop());
    const helloDone = registry.hello('hb-slow', hello('hb-slow'));
    const beatDone = registry.heartbeat('hb-slow', beat(1, 'hb-slow-cam', 'recording'));
    await Promise.all([helloDone, beatDone]);
    await registry.idle();
    const view = await registry.get('hb-slow');
    assert.deepEqual(unknown, []);
    assert.equal(view?.cameras[0]?.state, 'recording');
    assert.equal((view?.heartbeat as HeartbeatMessage | undefined)?.seq, 1);
  });
});
