import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import type { HelloMessage } from '@cctv/protocol';
import { onCleanup, startTestDatabase } from '../../test/support/index.ts';
import { visibleNodes } from '../src/auth/access.ts';
import { NodeRepository } from '../src/fleet/node-repository.ts';

function hello(nodeId: string, cameras: string[]): HelloMessage {
  return {
    protocolVersion: 1,
    nodeId,
    agentVersion: '1.2.3',
    at: new Date().toISOString(),
    host: { hostname: `${nodeId}.lan`, platform: 'linux', arch: 'arm64', cpus: 4, memTotalBytes: 1e9 },
    capabilities: { ffmpegVersion: '5.1', hwEncoders: [] },
    cameras: cameras.map((id, i) => ({
      id,
      name: `Cam ${i}`,
      codec: i % 2 ? 'h264' : 'hevc',
      width: 1280,
      height: 720,
      fps: 12.5,
      simulated: i === 0,
      recording: { mode: 'copy', encoder: 'copy', reason: 'test' },
    })),
  };
}

describe('node repository', () => {
  it('builds the fleet page in SQL exactly as the row mapping does, whole and per camera list', async () => {
    const db = createPrismaClient((await startTestDatabase()).url, 2);
    onCleanup(() => db.$disconnect());
    const repo = new NodeRepository(db);
    const at = new Date('2026-03-01T12:00:00.123Z');
    // Ids whose code-point order differs from a locale's ("a-b" before "a1" in C, not in ICU).
    await repo.applyHello(hello('n-b', ['n-b-cam-10', 'n-b-cam-2', 'n-b-cam1']), at);
    await repo.applyHello(hello('n1', ['n1-x']), at);
    await repo.applyStatus('n-b', 'online', '1.2.3', at);
    await repo.applyHeartbeats([
      {
        nodeId: 'n-b',
        at,
        heartbeat: {
          seq: 7,
          at: at.toISOString(),
          uptimeS: 70,
          cpu: { percent: 3.5, load1: 0.25 },
          mem: { rssBytes: 1, totalBytes: 2, freeBytes: 1 },
          tempC: null,
          disk: { spoolFreeBytes: 10, spoolUsedBytes: 0 },
          cameras: [],
        },
      },
    ]);
    // A node known only from its status: no hello, no cameras, no heartbeat.
    await repo.applyStatus('bare', 'offline', '0.9.0', at);

    const mapped = await repo.list();
    assert.deepEqual(
      mapped.map((n) => n.id),
      ['bare', 'n-b', 'n1'],
    );
    assert.deepEqual(JSON.parse(await repo.listJson(null)), mapped);
    const viewer = { id: 'u', username: 'u', role: 'viewer' as const, cameras: ['n-b-cam-2', 'n-b-cam1'] };
    assert.deepEqual(JSON.parse(await repo.listJson(viewer.cameras)), visibleNodes(viewer, mapped));
    assert.deepEqual(JSON.parse(await repo.listJson([])), []);
    assert.deepEqual(JSON.parse(await repo.listJson(['nowhere'])), []);
  });

  it('serves a stored heartbeat that no longer matches the schema as null, and reports it', async () => {
    const db = createPrismaClient((await startTestDatabase()).url, 2);
    onCleanup(() => db.$disconnect());
    const reported: string[] = [];
    const repo = new NodeRepository(db, (nodeId) => reported.push(nodeId));
    const at = new Date('2026-03-01T12:00:00.000Z');
    await repo.applyStatus('old', 'online', '0.1.0', at);
    await repo.applyStatus('odd', 'online', '0.1.0', at);
    // Rows an older master could have written: a heartbeat of another shape.
    await db.node.update({ where: { id: 'old' }, data: { lastHeartbeat: { cpu: 12, seq: 'x' } } });
    await db.node.update({
      where: { id: 'odd' },
      data: { lastHeartbeat: { cpu: { percent: 1 }, mem: {}, disk: {}, cameras: [], seq: -1 } },
    });
    assert.equal((await repo.get('old'))?.heartbeat, null);
    assert.equal((await repo.get('odd'))?.heartbeat, null);
    assert.deepEqual(reported, ['old', 'odd']);
    assert.equal(repo.invalidHeartbeats, 2);
    // The SQL-built page keeps out a heartbeat without the objects a dashboard reads through.
    const page = JSON.parse(await repo.listJson(null)) as { id: string; heartbeat: unknown }[];
    assert.equal(page.find((n) => n.id === 'old')?.heartbeat, null);
  });
});
