/**
 * A connect storm on a real PostgreSQL: 1,000 nodes' status and hello arriving at once (a broker
 * restart) through a small pool, as the master's registry applies them. Every one is stored;
 * before writes were bounded, most transactions waited for a connection past Prisma's limit and
 * failed, and those nodes stayed unknown until they connected again.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import type { HelloMessage } from '@cctv/protocol';
import { pino } from 'pino';
import { onCleanup, startTestDatabase } from '../../test/support/index.ts';
import { NodeRepository } from '../src/fleet/node-repository.ts';
import { FleetRegistry } from '../src/fleet/registry.ts';

const NODES = 1000;
const h = {} as { db: PrismaClient; registry: FleetRegistry };

const hello = (nodeId: string): HelloMessage => ({
  protocolVersion: 1,
  nodeId,
  agentVersion: '0.1.0',
  at: new Date().toISOString(),
  host: { hostname: nodeId, platform: 'linux', arch: 'arm64', cpus: 4, memTotalBytes: 4e9 },
  capabilities: { ffmpegVersion: '5.1', hwEncoders: [] },
  cameras: [
    {
      id: `${nodeId}-cam`,
      name: 'Gate',
      codec: 'h264',
      width: 640,
      height: 360,
      fps: 10,
      simulated: true,
      recording: { mode: 'copy', encoder: 'copy', reason: 'source is h264' },
    },
  ],
});

describe('a connect storm', () => {
  before(async () => {
    const pg = await startTestDatabase();
    // The master's write pool is 10; a smaller one makes the storm harder.
    h.db = createPrismaClient(pg.url, 3);
    onCleanup(() => h.db.$disconnect());
    h.registry = new FleetRegistry(new NodeRepository(h.db), pino({ level: 'silent' }));
    onCleanup(() => h.registry.stop());
  });

  it(`stores the status and hello of ${NODES} nodes arriving at once`, async () => {
    const ids = Array.from({ length: NODES }, (_, i) => `storm-${i}`);
    const t0 = Date.now();
    const results = await Promise.allSettled(
      ids.flatMap((id) => [
        h.registry.status(id, { state: 'online', at: new Date().toISOString(), agentVersion: '0.1.0' }),
        h.registry.hello(id, hello(id)),
      ]),
    );
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    console.log(`${NODES} nodes: status and hello stored in ${Date.now() - t0} ms, ${failed.length} failed`);
    assert.equal(failed.length, 0, String(failed[0]?.reason));
    assert.equal(await h.db.node.count({ where: { state: 'online' } }), NODES);
    assert.equal(await h.db.camera.count(), NODES);
  });
});
