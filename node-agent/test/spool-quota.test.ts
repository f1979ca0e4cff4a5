import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { type QuotaCamera, SpoolQuota } from '../src/spool/quota.ts';
import type { FinishedSegment } from '../src/spool/segment.ts';

const logger = pino({ level: 'silent' });

const seg = (cameraId: string, second: number, bytes = 100): FinishedSegment => ({
  cameraId,
  path: `/spool/${cameraId}/${second}.m4s`,
  name: `20261123T100000000Z-${String(second).padStart(6, '0')}.m4s`,
  initPath: `/spool/${cameraId}/init.mp4`,
  startAt: new Date(Date.UTC(2026, 10, 23, 10, 0, second)),
  durationMs: 1000,
  bytes,
  codec: 'hevc',
});

/** A camera queue's bookkeeping: what is uploaded, what waits, which one is being sent. */
function camera(id: string, uploaded: FinishedSegment[], pending: FinishedSegment[], inFlight?: string) {
  const log: string[] = [];
  const cam: QuotaCamera = {
    cameraId: id,
    uploadedOnDisk: () => uploaded,
    droppable: () => pending.filter((s) => s.name !== inFlight),
    evictUploaded: async (s) => {
      uploaded.splice(uploaded.indexOf(s), 1);
      log.push(`evict ${id}@${s.startAt.getUTCSeconds()}`);
    },
    dropPending: async (s) => {
      if (s.name === inFlight) return false;
      pending.splice(pending.indexOf(s), 1);
      log.push(`drop ${id}@${s.startAt.getUTCSeconds()}`);
      return true;
    },
  };
  return { cam, log, uploaded, pending };
}

function quota(cams: ReturnType<typeof camera>[], quotaBytes: number, freeBytes = 1e12, minFreeBytes = 0) {
  const used = () =>
    cams.reduce((a, c) => a + [...c.uploaded, ...c.pending].reduce((b, s) => b + s.bytes, 0), 0);
  const dropped: string[] = [];
  const q = new SpoolQuota({
    quotaBytes,
    minFreeBytes,
    cameras: () => cams.map((c) => c.cam),
    usedBytes: async () => used(),
    freeBytes: async () => freeBytes,
    logger,
    onDropped: (s) => dropped.push(s.cameraId),
  });
  return { q, dropped, used };
}

describe('spool quota', () => {
  it('evicts uploaded segments first, oldest first across cameras, down to 90 % of the quota', async () => {
    const a = camera('a', [seg('a', 1), seg('a', 4)], [seg('a', 7)]);
    const b = camera('b', [seg('b', 2), seg('b', 3)], [seg('b', 8)]);
    const { q, used } = quota([a, b], 550); // 600 used
    const r = await q.enforce();
    assert.deepEqual([...a.log, ...b.log].sort(), ['evict a@1', 'evict b@2'].sort());
    assert.deepEqual([r.evicted, r.dropped, used()], [2, 0, 400]);
  });

  it('drops un-uploaded segments only when nothing uploaded is left, oldest first, never the one in flight', async () => {
    const a = camera('a', [seg('a', 1)], [seg('a', 2), seg('a', 5), seg('a', 6)], seg('a', 2).name);
    const b = camera('b', [], [seg('b', 3), seg('b', 4)]);
    const { q, dropped, used } = quota([a, b], 350); // 600 used
    const r = await q.enforce();
    // a@2 is the oldest waiting segment but is being sent: b@3 and b@4 go instead.
    assert.deepEqual(a.log, ['evict a@1']);
    assert.deepEqual(b.log, ['drop b@3', 'drop b@4']);
    assert.deepEqual(dropped, ['b', 'b']);
    assert.equal(r.dropped, 2);
    assert.ok(used() <= 350, `used ${used()}`);
    assert.ok(
      a.pending.some((s) => s.name === seg('a', 2).name),
      'the segment being sent stays',
    );
  });

  it('keeps the disk reserve even under the quota', async () => {
    const a = camera('a', [seg('a', 1), seg('a', 2), seg('a', 3)], []);
    const { q } = quota([a], 10_000, 50, 200); // 300 used, 50 free, 200 reserved: limit 150
    const r = await q.enforce();
    assert.equal(r.limitBytes, 150);
    assert.deepEqual(a.log, ['evict a@1', 'evict a@2']);
  });
});
