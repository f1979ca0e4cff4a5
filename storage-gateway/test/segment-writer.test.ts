/**
 * The segment index's hot statements (plain pg, batched) against real PostgreSQL, as the
 * gateway's own database role: rows read back through Prisma exactly as written, each caller
 * of a batch gets its own row's answer, and a batch holds one key once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPgPool, createPrismaClient } from '@cctv/db';
import { startTestDatabase } from '../../test/support/index.ts';
import { SegmentRepository } from '../src/index/segment-repository.ts';
import { SegmentWriter } from '../src/index/segment-writer.ts';

const db = await startTestDatabase();
const pool = createPgPool(db.gateway, 3, () => {}); // the database stops first at the end
const prisma = createPrismaClient(db.gateway, 2);
after(async () => {
  await pool.end();
  await prisma.$disconnect();
});
const writer = new SegmentWriter(pool);
const repo = new SegmentRepository(prisma);

const row = (camera: string, i: number) => ({
  cameraId: camera,
  nodeId: 'node-w',
  name: `s${String(i).padStart(4, '0')}.m4s`,
  initName: 'init-w.mp4',
  startAt: new Date(Date.UTC(2026, 11, 5, 13, 0, 0, 123) + i * 2000),
  durationMs: 2000,
  bytes: 1000 + i,
  codec: 'hvc1',
  sha256: i.toString(16).padStart(64, '0'),
  location: 'buffer' as const,
  gatewayId: 'gw-w' as string | null,
});

describe('segment writer', () => {
  it('inserts many rows at once, each answered for itself, read back by Prisma as written', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => row('cam-w1', i));
    const answers = await Promise.all(rows.map((r) => writer.insert(r)));
    assert.deepEqual(new Set(answers), new Set(['inserted']));
    // Again, with one new row among them: only that one is new.
    const again = await Promise.all([...rows.slice(0, 20), row('cam-w1', 300)].map((r) => writer.insert(r)));
    assert.deepEqual(again, [...Array(20).fill('exists'), 'inserted']);
    for (const i of [0, 150, 300]) {
      const expected = row('cam-w1', i);
      assert.deepEqual(await repo.find('cam-w1', expected.name), expected);
    }
  });

  it('looks rows up and records their location, false for a row that is not there', async () => {
    await Promise.all([0, 1, 2].map((i) => writer.insert(row('cam-w2', i))));
    const [a, missing, c] = await Promise.all([
      writer.lookup('cam-w2', row('cam-w2', 0).name),
      writer.lookup('cam-w2', 'nothing.m4s'),
      writer.lookup('cam-w2', row('cam-w2', 2).name),
    ]);
    assert.deepEqual(a, { sha256: row('cam-w2', 0).sha256, location: 'buffer' });
    assert.equal(missing, null);
    assert.deepEqual(c, { sha256: row('cam-w2', 2).sha256, location: 'buffer' });
    const moved = await Promise.all([
      writer.setLocation('cam-w2', row('cam-w2', 0).name, 'nas'),
      writer.setLocation('cam-w2', 'nothing.m4s', 'nas'),
      writer.setLocation('cam-w2', row('cam-w2', 1).name, 'missing'),
      // A re-upload to another gateway: its buffer holds the segment now.
      writer.setLocation('cam-w2', row('cam-w2', 2).name, 'buffer', 'gw-other'),
    ]);
    assert.deepEqual(moved, [true, false, true, true]);
    const at = async (i: number) => {
      const found = await repo.find('cam-w2', row('cam-w2', i).name);
      return [found?.location, found?.gatewayId];
    };
    // Moved to the NAS or marked missing, a row keeps the gateway that took it.
    assert.deepEqual(await at(0), ['nas', 'gw-w']);
    assert.deepEqual(await at(1), ['missing', 'gw-w']);
    assert.deepEqual(await at(2), ['buffer', 'gw-other']);
  });

  it('keeps one key once per batch: the later call sees the earlier one done', async () => {
    const r = row('cam-w3', 0);
    // The first statement runs alone; the calls made meanwhile wait for the next batch.
    const [, first, second] = await Promise.all([
      writer.insert(row('cam-w3', 9)),
      writer.insert(r),
      writer.insert(r),
    ]);
    assert.deepEqual([first, second], ['inserted', 'exists']);
    const [, toNas, back] = await Promise.all([
      writer.setLocation('cam-w3', row('cam-w3', 9).name, 'nas'),
      writer.setLocation('cam-w3', r.name, 'nas'),
      writer.setLocation('cam-w3', r.name, 'buffer'),
    ]);
    assert.deepEqual([toNas, back], [true, true]);
    assert.equal((await repo.find('cam-w3', r.name))?.location, 'buffer', 'applied in call order');
  });

  it('fails only the row at fault in a batch', async () => {
    const good = row('cam-w4', 0);
    const bad = { ...row('cam-w4', 1), durationMs: 2 ** 40 }; // out of an int column's range
    const [, a, b] = await Promise.allSettled([
      writer.insert(row('cam-w4', 9)),
      writer.insert(good),
      writer.insert(bad),
    ]);
    assert.deepEqual(a, { status: 'fulfilled', value: 'inserted' });
    assert.equal(b.status, 'rejected');
    assert.equal(await writer.lookup('cam-w4', bad.name), null);
  });
});
