/**
 * The export queue in PostgreSQL (docs/adr/0024), on a real server as the master's role: masters
 * claiming at once each get a different job; a claim whose lease lapses is taken over; a job
 * started too often is failed; a master that lost its claim can neither renew nor finish it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import { onCleanup, startTestDatabase } from '../../test/support/index.ts';
import { ExportRepository } from '../src/exports/export-repository.ts';

const h = {} as { db: PrismaClient; repo: ExportRepository };

const job = (cameraId: string) => ({
  userId: 'u1',
  username: 'admin',
  cameraId,
  from: new Date('2026-12-01T10:00:00Z'),
  to: new Date('2026-12-01T10:01:00Z'),
  blurFaces: false,
  blurMotion: false,
});

describe('export queue', () => {
  before(async () => {
    const pg = await startTestDatabase();
    h.db = createPrismaClient(pg.url, 8);
    onCleanup(() => h.db.$disconnect());
    h.repo = new ExportRepository(h.db);
  });

  it('gives each of many concurrent claims a different job, oldest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await h.repo.create(job(`q-cam-${i}`))).id);
    const claims = await Promise.all(
      Array.from({ length: 16 }, (_, i) => h.repo.claim(`m${i % 2}`, 30_000, 3)),
    );
    const got = claims.filter((c) => c !== null).map((c) => c.id);
    assert.equal(got.length, 12, 'twelve jobs, twelve claims; four found nothing');
    assert.equal(new Set(got).size, 12, 'no job claimed twice');
    for (const c of claims) if (c) assert.equal(c.state, 'running');
    await h.db.exportJob.updateMany({ where: { id: { in: ids } }, data: { state: 'done', claimedBy: null } });
  });

  it('takes over a claim whose lease lapsed, and the old master cannot renew or finish it', async () => {
    const { id } = await h.repo.create(job('t-cam'));
    const first = await h.repo.claim('dead', 300, 3);
    assert.equal(first?.id, id);
    assert.equal(first?.attempts, 1);
    assert.equal(await h.repo.claim('alive', 30_000, 3), null, 'a held claim is not taken');
    await new Promise((r) => setTimeout(r, 400));
    const second = await h.repo.claim('alive', 30_000, 3);
    assert.equal(second?.id, id, 'the lapsed claim is taken over');
    assert.equal(second?.attempts, 2);
    assert.equal(await h.repo.renew(id, 'dead', 30_000), false);
    assert.equal(await h.repo.updateClaimed(id, 'dead', { state: 'done' }), false);
    assert.equal(await h.repo.renew(id, 'alive', 30_000), true);
    assert.equal(await h.repo.updateClaimed(id, 'alive', { state: 'done', claimedBy: null }), true);
  });

  it('fails a job whose masters stopped three times, and releases a restarted master’s claims', async () => {
    const { id } = await h.repo.create(job('p-cam'));
    for (let i = 0; i < 3; i++) {
      assert.equal((await h.repo.claim(`m${i}`, 1, 3))?.id, id);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await h.repo.claim('m9', 30_000, 3), null);
    const failed = await h.repo.get(id);
    assert.equal(failed?.state, 'failed');
    assert.match(failed?.error ?? '', /started 3 times/);

    const { id: mine } = await h.repo.create(job('r-cam'));
    assert.equal((await h.repo.claim('restarting', 60_000, 3))?.id, mine);
    assert.equal(await h.repo.releaseClaims('restarting'), 1);
    assert.equal((await h.repo.claim('restarting', 60_000, 3))?.id, mine, 'claimable again at once');
  });
});
