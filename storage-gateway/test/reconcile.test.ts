/**
 * Start-up reconciliation of the index with the buffer and the NAS (real PostgreSQL, real
 * files, real gateway restarts), and the NAS backlog order and drain rate (unit tests of the
 * mover's own logic with an injected NAS writer).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import pino from 'pino';
import { onCleanup, startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import { BufferStore } from '../src/buffer/buffer-store.ts';
import { SegmentFiles } from '../src/files/segment-files.ts';
import { Reconciler } from '../src/index/reconcile.ts';
import { SegmentRepository } from '../src/index/segment-repository.ts';
import { BacklogQueue } from '../src/nas/backlog-queue.ts';
import { type BacklogItem, NasMover } from '../src/nas/nas-mover.ts';
import { granted, mediaHeaders, metric, put, sha256, startGateway } from './gateway-harness.ts';
import { testMoverOptions } from './mover-options.ts';

const db = await startTestDatabase();
const T0 = new Date('2026-11-26T10:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const seg = () => randomBytes(4096);

async function location(gw: { prisma: import('@cctv/db').PrismaClient }, camera: string, name: string) {
  const row = await gw.prisma.segment.findUnique({ where: { cameraId_name: { cameraId: camera, name } } });
  return row?.location ?? null;
}

describe('index reconciliation at start', () => {
  it('finds finished moves, marks lost files missing, reports orphans, and heals on re-upload', async () => {
    const root = await tempDir('cctv-rec-');
    const dirs = { bufferDir: join(root, 'buffer'), nasDir: join(root, 'nas') };
    const first = await startGateway(db, {}, dirs);
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      const data = seg();
      bodies.set(`s${i}.m4s`, data);
      assert.equal(
        (await put(first.url, 'cam-rec', `s${i}.m4s`, data, mediaHeaders(at(i * 2), 2000, 'init.mp4')))
          .status,
        201,
      );
    }
    await waitFor('moved', async () => first.gateway.mover.backlog === 0);
    await first.stop();
    const nasCam = join(dirs.nasDir, 'cam-rec');
    const bufCam = join(dirs.bufferDir, 'cam-rec');
    await mkdir(bufCam, { recursive: true });
    // s0: a crash after the NAS copy but before the index was told: the row says buffer.
    await first.prisma.segment.update({
      where: { cameraId_name: { cameraId: 'cam-rec', name: 's0.m4s' } },
      data: { location: 'buffer' },
    });
    // s1: the row says buffer and the file is nowhere; s2: gone from the NAS.
    await first.prisma.segment.update({
      where: { cameraId_name: { cameraId: 'cam-rec', name: 's1.m4s' } },
      data: { location: 'buffer' },
    });
    await rm(join(nasCam, 's1.m4s'));
    await rename(join(nasCam, 's2.m4s'), join(root, 's2.saved'));
    // Orphans: media without rows in the buffer (never acknowledged) and on the NAS.
    await writeFile(join(bufCam, 'orphan-b.m4s'), seg());
    await writeFile(join(nasCam, 'orphan-n.m4s'), seg());
    // s3: moved and indexed `nas`, but the unlink of its buffered copy did not survive the crash.
    await writeFile(join(bufCam, 's3.m4s'), bodies.get('s3.m4s') as Buffer);

    const second = await startGateway(db, {}, dirs);
    await second.gateway.reconciled();
    assert.equal(await location(second, 'cam-rec', 's0.m4s'), 'nas');
    assert.equal(await location(second, 'cam-rec', 's1.m4s'), 'missing');
    assert.equal(await location(second, 'cam-rec', 's2.m4s'), 'missing');
    assert.equal(await metric(second.url, 'cctv_gateway_index_missing_segments'), 2);
    assert.equal(await metric(second.url, 'cctv_gateway_index_orphan_files', 'where="buffer"'), 1);
    assert.equal(await metric(second.url, 'cctv_gateway_index_orphan_files', 'where="nas"'), 1);
    assert.ok((await readdir(bufCam)).includes('orphan-b.m4s'), 'an orphan is reported, not deleted');
    assert.ok(!(await readdir(bufCam)).includes('s3.m4s'), 'the copy of a moved segment is removed');
    assert.equal(await location(second, 'cam-rec', 's3.m4s'), 'nas');

    // Missing segments leave the playlist (a gap with a discontinuity), not a broken URI.
    const playlist = await (
      await fetch(
        await granted(
          second.url,
          `/v1/vod/cam-rec.m3u8?from=${at(0).toISOString()}&to=${at(60).toISOString()}`,
        ),
      )
    ).text();
    assert.ok(!playlist.includes('s1.m4s') && !playlist.includes('s2.m4s'), playlist);
    assert.ok(playlist.includes('s3.m4s') && playlist.includes('#EXT-X-DISCONTINUITY'), playlist);

    // The agent sends s1 again: the row heals and the file goes to the NAS.
    const again = await put(
      second.url,
      'cam-rec',
      's1.m4s',
      bodies.get('s1.m4s') as Buffer,
      mediaHeaders(at(2), 2000, 'init.mp4'),
    );
    assert.equal(again.status, 200);
    await waitFor('healed', async () => (await location(second, 'cam-rec', 's1.m4s')) === 'nas');
    await second.stop();

    // s2 comes back (restored from a backup): the next start finds it.
    await rename(join(root, 's2.saved'), join(nasCam, 's2.m4s'));
    const third = await startGateway(db, {}, dirs);
    await third.gateway.reconciled();
    assert.equal(await location(third, 'cam-rec', 's2.m4s'), 'nas');
    assert.equal(await metric(third.url, 'cctv_gateway_index_missing_segments'), 0);
  });

  it('does not mark anything missing when the NAS looks empty (a share not mounted)', async () => {
    const root = await tempDir('cctv-rec-empty-');
    const dirs = { bufferDir: join(root, 'buffer'), nasDir: join(root, 'nas') };
    const first = await startGateway(db, {}, dirs);
    for (let i = 0; i < 3; i++)
      await put(first.url, 'cam-empty', `e${i}.m4s`, seg(), mediaHeaders(at(i * 2), 2000, 'init.mp4'));
    await waitFor('moved', async () => first.gateway.mover.backlog === 0);
    await first.stop();
    await rm(join(dirs.nasDir, 'cam-empty'), { recursive: true });
    await mkdir(join(dirs.nasDir, 'cam-empty'));
    const second = await startGateway(db, {}, dirs);
    await second.gateway.reconciled();
    for (let i = 0; i < 3; i++) assert.equal(await location(second, 'cam-empty', `e${i}.m4s`), 'nas');
  });
});

describe('index reconciliation with several gateways on one index', () => {
  it("judges its own buffered rows only, and moves a copy it holds of another gateway's", async () => {
    const root = await tempDir('cctv-rec-peers-');
    const bufferDir = join(root, 'buffer');
    const prisma = createPrismaClient(db.gateway, 1);
    onCleanup(() => prisma.$disconnect());
    const row = (camera: string, name: string, location: 'buffer' | 'nas', gatewayId: string | null) => ({
      cameraId: camera,
      nodeId: 'node-1',
      name,
      initName: 'init.mp4',
      startAt: at(name.charCodeAt(0)),
      durationMs: 2000,
      bytes: 4,
      codec: 'hvc1',
      sha256: sha256(name),
      location,
      gatewayId,
    });
    await prisma.segment.createMany({
      data: [
        row('cam-pq', 'a.m4s', 'buffer', 'gw-me'), // here: the backlog
        row('cam-pq', 'b.m4s', 'buffer', 'gw-me'), // nowhere: missing
        row('cam-pq', 'c.m4s', 'buffer', 'gw-other'), // in the other's buffer: not ours to judge
        row('cam-pq', 'd.m4s', 'buffer', 'gw-other'), // a copy here too (sent again after a failover)
        row('cam-pq', 'e.m4s', 'buffer', null), // from before ids, of a camera with a folder here
        row('cam-pz', 'f.m4s', 'buffer', null), // from before ids, of a camera never buffered here
        row('cam-pq', 'g.m4s', 'nas', 'gw-other'), // moved by the other; a stale copy here
      ],
    });
    await mkdir(join(bufferDir, 'cam-pq'), { recursive: true });
    for (const name of ['a.m4s', 'd.m4s', 'g.m4s', 'h.m4s'])
      await writeFile(join(bufferDir, 'cam-pq', name), name);
    const reconciler = new Reconciler({
      index: new SegmentRepository(prisma),
      buffer: new BufferStore(bufferDir),
      files: new SegmentFiles(bufferDir, join(root, 'nas')),
      nas: { list: async () => [], cameras: async () => [], probe: async () => {}, cleanTemp: async () => 0 },
      logger: pino({ level: 'silent' }),
      gatewayId: 'gw-me',
    });
    const report = await reconciler.buffered();
    assert.deepEqual(report.backlog.map((b) => `${b.camera}/${b.name}`).sort(), [
      'cam-pq/a.m4s',
      'cam-pq/d.m4s',
    ]);
    assert.deepEqual(report.missing.sort(), ['cam-pq/b.m4s', 'cam-pq/e.m4s']);
    assert.deepEqual(report.bufferReleased, ['cam-pq/g.m4s']);
    assert.deepEqual(report.bufferOrphans, ['cam-pq/h.m4s']);
    const rows = await prisma.segment.findMany({ where: { cameraId: { in: ['cam-pq', 'cam-pz'] } } });
    const state = Object.fromEntries(rows.map((r) => [r.name, `${r.location}@${r.gatewayId}`]));
    assert.deepEqual(state, {
      'a.m4s': 'buffer@gw-me',
      'b.m4s': 'missing@gw-me',
      'c.m4s': 'buffer@gw-other',
      'd.m4s': 'buffer@gw-other',
      'e.m4s': 'missing@null',
      'f.m4s': 'buffer@null',
      'g.m4s': 'nas@gw-other',
    });
    assert.deepEqual(await readdir(join(bufferDir, 'cam-pq')).then((n) => n.sort()), [
      'a.m4s',
      'd.m4s',
      'h.m4s',
    ]);
  });
});

describe('NAS backlog order and drain rate', () => {
  const item = (camera: string, name: string, timeMs: number, arrivedMs = 0, bytes = 1000): BacklogItem => ({
    camera,
    name,
    sha256: sha256(name),
    bytes,
    timeMs,
    arrivedMs,
  });

  it('the queue yields recording-time order whatever the arrival order, each segment once', () => {
    const q = new BacklogQueue();
    const times = Array.from({ length: 200 }, (_, i) => (i * 7919) % 200);
    for (const [i, t] of times.entries()) q.push(item(`c${t % 3}`, `n${t}.m4s`, t * 1000, i));
    assert.equal(q.push(item('c0', 'n0.m4s', 0)), false, 'a queued segment is not queued twice');
    assert.equal(q.size, 200);
    assert.equal(q.bytes, 200_000);
    const out: number[] = [];
    while (q.size > 0) out.push((q.shift() as BacklogItem).timeMs);
    assert.deepEqual(
      out,
      [...out].sort((a, b) => a - b),
    );
    assert.equal(q.bytes, 0);
  });

  it('drains in recording-time order after an outage, and no faster than the configured rate', async () => {
    const dir = await tempDir('cctv-order-');
    const files = new SegmentFiles(join(dir, 'buffer'), join(dir, 'nas'));
    for (const camera of ['cam-a', 'cam-b']) await mkdir(join(dir, 'buffer', camera), { recursive: true });
    let up = false;
    const copied: string[] = [];
    const pauses: number[] = [];
    let clock = 0;
    const mover = new NasMover({
      nas: {
        async copy(_src, camera, name) {
          if (!up) throw Object.assign(new Error('NAS gone'), { code: 'EIO' });
          copied.push(`${camera}/${name}`);
          return { status: 'copied', bytes: 1000 };
        },
      },
      ...testMoverOptions(files),
      drainBytesPerS: 10_000, // 1000-byte segments: 100 ms each; one move at a time
      parallel: 4,
      now: () => clock,
      delay: async (ms) => {
        if (ms >= 50) pauses.push(ms);
        clock += ms;
        await new Promise((r) => setImmediate(r));
      },
    });
    mover.start();
    // A camera that was offline sends its older footage last.
    mover.enqueue(item('cam-b', 'b2.m4s', 20_000, 1));
    mover.enqueue(item('cam-a', 'a1.m4s', 10_000, 2));
    mover.enqueue(item('cam-b', 'b0.m4s', 0, 3));
    mover.enqueue(item('cam-a', 'a3.m4s', 30_000, 4));
    await waitFor('failing', () => mover.degraded);
    up = true;
    await waitFor('drained', () => mover.backlog === 0);
    await mover.stop();
    assert.deepEqual(copied, ['cam-b/b0.m4s', 'cam-a/a1.m4s', 'cam-b/b2.m4s', 'cam-a/a3.m4s']);
    assert.deepEqual(pauses, [100, 100, 100, 100]);
  });

  it('moves several segments at once while the NAS is healthy, starting them in time order', async () => {
    const dir = await tempDir('cctv-parallel-');
    const files = new SegmentFiles(join(dir, 'buffer'), join(dir, 'nas'));
    await mkdir(join(dir, 'buffer', 'cam-p'), { recursive: true });
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const mover = new NasMover({
      nas: {
        async copy(_src, _camera, name) {
          started.push(name);
          running += 1;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 5));
          running -= 1;
          return { status: 'copied', bytes: 1000 };
        },
      },
      ...testMoverOptions(files),
      drainBytesPerS: 0,
      parallel: 3,
    });
    for (let i = 9; i >= 0; i--) mover.enqueue(item('cam-p', `p${i}.m4s`, i * 1000));
    mover.start();
    await waitFor('drained', () => mover.backlog === 0);
    await mover.stop();
    assert.deepEqual(
      started,
      Array.from({ length: 10 }, (_, i) => `p${i}.m4s`),
    );
    assert.equal(most, 3);
  });
});
