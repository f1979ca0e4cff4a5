import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createPgPool, createPrismaClient } from '@cctv/db';
import pino from 'pino';
import { onCleanup, startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import { skipRootOnly } from '../../test/support/root-only.ts';
import { ConfigError, loadConfig, type RetentionConfig } from '../src/config.ts';
import { KeyedLock } from '../src/files/keyed-lock.ts';
import { localNasFiles, type NasFiles } from '../src/retention/nas-files.ts';
import { RetentionRepository } from '../src/retention/retention-repository.ts';
import {
  type BlockedInfo,
  type Delay,
  type DeletedSegment,
  RetentionSweeper,
  type RetentionSweeperOptions,
  type SweepSummary,
} from '../src/retention/retention-sweeper.ts';
import { advisoryRoundLock } from '../src/retention/round-lock.ts';
import { listFiles, metric, startGateway } from './gateway-harness.ts';

const run = promisify(execFile);
const DAY = 86_400_000;
const NOW = new Date('2026-06-01T00:00:00.000Z');
const ago = (ms: number, from = NOW) => new Date(from.getTime() - ms);
const DB_URL = 'postgresql://u:p@127.0.0.1:5432/cctv';

// Started at file level: the helpers stop what they start when the file ends.
const db = await startTestDatabase();
// The owner: the tests write segments and events and empty both tables between tests.
const prisma = createPrismaClient(db.owner, 2);
onCleanup(() => prisma.$disconnect());
// What retention runs on: the gateway's role.
const gatewayPrisma = createPrismaClient(db.gateway, 2);
onCleanup(() => gatewayPrisma.$disconnect());

beforeEach(async () => {
  await prisma.segment.deleteMany();
  await prisma.event.deleteMany();
  // The master's table is append-only for its role; the owner clears it between tests.
  await prisma.nodeConfigVersion.deleteMany();
});

interface Dirs {
  nas: string;
  buffer: string;
}

async function dirs(nas?: string): Promise<Dirs> {
  const root = await tempDir('cctv-retention-');
  return { nas: nas ?? join(root, 'nas'), buffer: join(root, 'buffer') };
}

interface SegmentSpec {
  camera: string;
  name: string;
  startAt: Date;
  durationMs?: number;
  bytes?: number;
  init?: string;
  location?: 'nas' | 'buffer';
}

/** A real file where the row says it is, and the row. */
async function addSegment(d: Dirs, seg: SegmentSpec): Promise<void> {
  const bytes = seg.bytes ?? 1000;
  const location = seg.location ?? 'nas';
  const dir = join(location === 'nas' ? d.nas : d.buffer, seg.camera);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, seg.name), Buffer.alloc(bytes, 7));
  await prisma.segment.create({
    data: {
      cameraId: seg.camera,
      nodeId: 'node-1',
      name: seg.name,
      initName: seg.init ?? 'init-a.mp4',
      startAt: seg.startAt,
      durationMs: seg.durationMs ?? 4000,
      bytes,
      codec: 'hvc1',
      sha256: '0'.repeat(64),
      location,
    },
  });
}

async function addInit(root: string, camera: string, name: string): Promise<void> {
  await mkdir(join(root, camera), { recursive: true });
  await writeFile(join(root, camera, name), Buffer.alloc(600, 1));
}

/** An event row as the master writes it (the table is shared). */
async function addEvent(
  camera: string,
  startedAt: Date,
  endedAt: Date | null,
  lastAt = endedAt,
): Promise<void> {
  await prisma.event.create({
    data: {
      id: randomUUID(),
      nodeId: 'node-1',
      cameraId: camera,
      type: 'motion',
      startedAt,
      endedAt,
      lastAt: lastAt ?? startedAt,
      score: 0.9,
      bestAt: startedAt,
      boxes: [],
      zones: [],
      frames: 10,
      lastSeq: 1,
    },
  });
}

async function names(camera: string): Promise<string[]> {
  const rows = await prisma.segment.findMany({ where: { cameraId: camera }, orderBy: { name: 'asc' } });
  return rows.map((r) => r.name);
}

const defaults = loadConfig({ DATABASE_URL: DB_URL, GATEWAY_TLS: 'off' }).retention;

interface Harness {
  sweeper: RetentionSweeper;
  deleted: DeletedSegment[];
  blocked: BlockedInfo[];
  sweeps: SweepSummary[];
  logs: { level: number; msg: string }[];
  clock: { now: Date };
}

function makeSweeper(
  nas: NasFiles,
  config: Partial<RetentionConfig>,
  extra: Partial<RetentionSweeperOptions> = {},
): Harness {
  const h: Omit<Harness, 'sweeper'> = { deleted: [], blocked: [], sweeps: [], logs: [], clock: { now: NOW } };
  const logger = pino({ level: 'info' }, { write: (line: string) => h.logs.push(JSON.parse(line)) });
  const sweeper = new RetentionSweeper({
    repository: new RetentionRepository(gatewayPrisma),
    nas,
    lock: new KeyedLock(),
    config: { ...defaults, nasMinFreePercent: 0, ...config },
    logger,
    now: () => h.clock.now,
    batchSize: 2, // several batches even with a handful of rows
    onDeleted: (d) => h.deleted.push(d),
    onBlocked: (b) => h.blocked.push(b),
    onSweep: (s) => h.sweeps.push(s),
    ...extra,
  });
  return { ...h, sweeper };
}

describe('retention configuration', () => {
  it('has documented defaults and parses per-camera days', () => {
    assert.deepEqual(defaults, {
      intervalS: 300,
      days: 30,
      cameraDays: new Map(),
      nasMinFreePercent: 10,
      eventPadS: 10,
      eventRetentionDays: 90,
    });
    const c = loadConfig({
      DATABASE_URL: DB_URL,
      GATEWAY_TLS: 'off',
      GATEWAY_RETENTION_CAMERA_DAYS: ' cam-a=7, cam-b = 90,cam-c=0 ',
      GATEWAY_RETENTION_DAYS: '0',
      GATEWAY_NAS_MIN_FREE_PERCENT: '0',
    });
    assert.deepEqual(
      c.retention.cameraDays,
      new Map([
        ['cam-a', 7],
        ['cam-b', 90],
        ['cam-c', 0],
      ]),
    );
    assert.equal(c.retention.days, 0);
    assert.equal(c.retention.nasMinFreePercent, 0);
  });

  it('lists every bad retention key at once, with the other problems', () => {
    assert.throws(
      () =>
        loadConfig({
          DATABASE_URL: DB_URL,
          GATEWAY_TLS: 'off',
          GATEWAY_PORT: 'x',
          GATEWAY_RETENTION_DAYS: '-1',
          GATEWAY_RETENTION_INTERVAL_S: '0',
          GATEWAY_NAS_MIN_FREE_PERCENT: '100',
          GATEWAY_EVENT_PAD_S: 'ten',
          GATEWAY_EVENT_RETENTION_DAYS: '3651',
          GATEWAY_RETENTION_CAMERA_DAYS: 'Cam_A=7,cam-b=1.5,cam-c,cam-d=4000,cam-e=1,cam-e=2',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.equal(err.problems.length, 11, text);
        for (const re of [
          /GATEWAY_PORT/,
          /GATEWAY_RETENTION_DAYS must be an integer from 0 to 3650/,
          /GATEWAY_RETENTION_INTERVAL_S/,
          /GATEWAY_NAS_MIN_FREE_PERCENT/,
          /GATEWAY_EVENT_PAD_S/,
          /GATEWAY_EVENT_RETENTION_DAYS/,
          /"Cam_A" is not a valid camera id/,
          /days for cam-b must be an integer from 0 to 3650, got "1.5"/,
          /entries must look like cam-a=7, got "cam-c"/,
          /days for cam-d must be an integer/,
          /cam-e is listed twice/,
        ])
          assert.match(text, re);
        return true;
      },
    );
  });
});

describe('age rule', () => {
  it('deletes NAS segments older than their camera’s days, with per-camera overrides', async () => {
    const d = await dirs();
    await addSegment(d, { camera: 'cam-a', name: 'a-old.m4s', startAt: ago(8 * DAY), bytes: 1500 });
    await addSegment(d, { camera: 'cam-a', name: 'a-new.m4s', startAt: ago(6 * DAY) });
    await addSegment(d, { camera: 'cam-b', name: 'b-ancient.m4s', startAt: ago(400 * DAY) });
    for (const [name, startAt] of [
      ['c-1.m4s', ago(33 * DAY)],
      ['c-2.m4s', ago(32 * DAY)],
      ['c-3.m4s', ago(31 * DAY)],
      ['c-new.m4s', ago(29 * DAY)],
      // starts before the cutoff but ends after it: kept
      ['c-edge.m4s', ago(30 * DAY + 2000)],
    ] as const)
      await addSegment(d, { camera: 'cam-c', name, startAt });
    await addSegment(d, {
      camera: 'cam-c',
      name: 'c-buffered.m4s',
      startAt: ago(40 * DAY),
      location: 'buffer',
    });

    const h = makeSweeper(localNasFiles(d.nas), {
      days: 30,
      cameraDays: new Map([
        ['cam-a', 7],
        ['cam-b', 0],
      ]),
    });
    const summary = await h.sweeper.sweepOnce();
    assert.equal(summary.ok, true);
    assert.deepEqual(summary.deleted.age, { segments: 4, bytes: 4500 });
    assert.deepEqual(h.deleted.map((x) => `${x.camera}/${x.name}:${x.reason}:${x.bytes}`).sort(), [
      'cam-a/a-old.m4s:age:1500',
      'cam-c/c-1.m4s:age:1000',
      'cam-c/c-2.m4s:age:1000',
      'cam-c/c-3.m4s:age:1000',
    ]);
    assert.deepEqual(await names('cam-a'), ['a-new.m4s']);
    assert.deepEqual(await names('cam-b'), ['b-ancient.m4s']);
    assert.deepEqual(await names('cam-c'), ['c-buffered.m4s', 'c-edge.m4s', 'c-new.m4s']);
    assert.deepEqual(await listFiles(d.nas), [
      'cam-a/a-new.m4s',
      'cam-b/b-ancient.m4s',
      'cam-c/c-edge.m4s',
      'cam-c/c-new.m4s',
    ]);
    assert.deepEqual(await listFiles(d.buffer), ['cam-c/c-buffered.m4s']);
    // Nothing left to do: a second sweep deletes nothing.
    assert.deepEqual((await h.sweeper.sweepOnce()).deleted.age, { segments: 0, bytes: 0 });
  });

  it('takes the days set on the dashboard (the newest desired configuration) over its own', async () => {
    const d = await dirs();
    await addSegment(d, { camera: 'cam-d', name: 'd-10.m4s', startAt: ago(10 * DAY) });
    await addSegment(d, { camera: 'cam-d', name: 'd-3.m4s', startAt: ago(3 * DAY) });
    await addSegment(d, { camera: 'cam-f', name: 'f-10.m4s', startAt: ago(10 * DAY) });
    const cam = (id: string, retentionDays?: number) => ({
      spec: { id, name: id, url: `rtsp://cam.test/${id}` },
      changedIn: 1,
      ...(retentionDays === undefined ? {} : { retentionDays }),
    });
    // Version 1 said 1 day for cam-d; version 2 (the newest) says 5; cam-f has no days set.
    await prisma.nodeConfigVersion.createMany({
      data: [
        {
          nodeId: 'node-r',
          version: 1,
          cameras: { cameras: [cam('cam-d', 1)] },
          createdBy: 'admin',
          note: 'v1',
        },
        {
          nodeId: 'node-r',
          version: 2,
          cameras: { cameras: [cam('cam-d', 5), cam('cam-f')] },
          createdBy: 'admin',
          note: 'v2',
        },
      ],
    });
    const h = makeSweeper(localNasFiles(d.nas), {
      days: 30,
      cameraDays: new Map([
        ['cam-d', 60],
        ['cam-f', 7],
      ]),
    });
    await h.sweeper.sweepOnce();
    assert.deepEqual(await names('cam-d'), ['d-3.m4s'], 'the dashboard’s 5 days, not the gateway’s 60');
    assert.deepEqual(await names('cam-f'), [], 'no days on the dashboard: the gateway’s 7');
  });

  it('keeps footage overlapping events (with pad) until the event’s retention has passed', async () => {
    const d = await dirs();
    const t = ago(40 * DAY);
    const at = (s: number) => new Date(t.getTime() + s * 1000);
    const segs = { s0: -10, s1: 0, s2: 4, s3: 8, s4: 31, s5: 45, s6: 80 };
    for (const [name, s] of Object.entries(segs))
      await addSegment(d, { camera: 'cam-e', name: `${name}.m4s`, startAt: at(s) });
    await addEvent('cam-e', at(13), at(20)); // span with 10 s pad: [t+3, t+30]
    await addEvent('cam-e', at(50), null, at(60)); // still open: [t+40, t+70]
    await addEvent('cam-other', at(25), at(40)); // another camera's event protects nothing here

    const h = makeSweeper(localNasFiles(d.nas), { days: 30, eventPadS: 10, eventRetentionDays: 90 });
    await h.sweeper.sweepOnce();
    assert.deepEqual(await names('cam-e'), ['s1.m4s', 's2.m4s', 's3.m4s', 's5.m4s']);
    assert.deepEqual(await listFiles(join(d.nas, 'cam-e')), ['s1.m4s', 's2.m4s', 's3.m4s', 's5.m4s']);

    // 90 days after the closed event's end its footage may go; the open one counts from lastAt.
    h.clock.now = new Date(at(20).getTime() + 90 * DAY + 1000);
    await h.sweeper.sweepOnce();
    assert.deepEqual(await names('cam-e'), ['s5.m4s']);
    h.clock.now = new Date(at(60).getTime() + 90 * DAY + 1000);
    await h.sweeper.sweepOnce();
    assert.deepEqual(await names('cam-e'), []);
    assert.deepEqual(await listFiles(d.nas), []);
  });

  it('deletes init files no remaining row of the camera refers to, and keeps the others', async () => {
    const d = await dirs();
    await addSegment(d, { camera: 'cam-i', name: 'i-1.m4s', startAt: ago(40 * DAY), init: 'init-old.mp4' });
    await addSegment(d, { camera: 'cam-i', name: 'i-2.m4s', startAt: ago(39 * DAY), init: 'init-old.mp4' });
    await addSegment(d, { camera: 'cam-i', name: 'i-3.m4s', startAt: ago(35 * DAY), init: 'init-new.mp4' });
    await addSegment(d, { camera: 'cam-i', name: 'i-4.m4s', startAt: ago(1 * DAY), init: 'init-new.mp4' });
    const buffered = { init: 'init-buf.mp4', location: 'buffer' } as const;
    await addSegment(d, { camera: 'cam-i', name: 'i-0.m4s', startAt: ago(50 * DAY), ...buffered });
    await addSegment(d, { camera: 'cam-i', name: 'i-5.m4s', startAt: ago(38 * DAY), init: 'init-buf.mp4' });
    // Same init name on another camera, still in use there: a different file.
    await addSegment(d, { camera: 'cam-j', name: 'j-1.m4s', startAt: ago(1 * DAY), init: 'init-old.mp4' });
    for (const name of ['init-old.mp4', 'init-new.mp4', 'init-buf.mp4']) await addInit(d.nas, 'cam-i', name);
    await addInit(d.nas, 'cam-j', 'init-old.mp4');

    const h = makeSweeper(localNasFiles(d.nas), { days: 30 });
    const summary = await h.sweeper.sweepOnce();
    assert.equal(summary.initsDeleted, 1);
    assert.deepEqual(await names('cam-i'), ['i-0.m4s', 'i-4.m4s']);
    assert.deepEqual(await listFiles(d.nas), [
      'cam-i/i-4.m4s',
      'cam-i/init-buf.mp4',
      'cam-i/init-new.mp4',
      'cam-j/init-old.mp4',
      'cam-j/j-1.m4s',
    ]);
  });
});

describe('init files just uploaded again', () => {
  it('keeps an init an agent has just re-sent for a new run, though no row names it yet', async () => {
    const d = await dirs();
    await addSegment(d, { camera: 'cam-k', name: 'k-1.m4s', startAt: ago(40 * DAY), init: 'init-k.mp4' });
    await addInit(d.nas, 'cam-k', 'init-k.mp4');
    const h = makeSweeper(localNasFiles(d.nas), { days: 30 }, { initRecentlyUsed: () => true });
    const summary = await h.sweeper.sweepOnce();
    assert.equal(summary.initsDeleted, 0);
    assert.deepEqual(await listFiles(d.nas), ['cam-k/init-k.mp4']);
  });
});

describe('NAS failures', () => {
  const broken = (what: 'remove' | 'usage', good: NasFiles): NasFiles => ({
    remove: what === 'remove' ? () => Promise.reject(new Error('EIO: NAS gone')) : good.remove,
    usage: what === 'usage' ? () => Promise.reject(new Error('EIO: NAS gone')) : good.usage,
  });

  it('leaves everything in place when the NAS throws, logs once, and catches up later', async () => {
    const d = await dirs();
    for (let i = 0; i < 5; i++)
      await addSegment(d, { camera: 'cam-f', name: `f-${i}.m4s`, startAt: ago((40 - i) * DAY) });
    await addInit(d.nas, 'cam-f', 'init-a.mp4');
    const before = await listFiles(d.nas);

    for (const what of ['remove', 'usage'] as const) {
      const config = what === 'usage' ? { days: 0, nasMinFreePercent: 99 } : { days: 30 };
      const h = makeSweeper(broken(what, localNasFiles(d.nas)), config);
      const summary = await h.sweeper.sweepOnce();
      assert.equal(summary.ok, false, what);
      assert.deepEqual(h.deleted, []);
      assert.equal(h.sweeps.length, 1);
      assert.equal(h.sweeps[0]?.ok, false);
      assert.deepEqual(h.logs.filter((l) => l.level >= 40).length, 1, JSON.stringify(h.logs));
      assert.match(h.logs[0]?.msg ?? '', /NAS unavailable/);
      assert.equal((await names('cam-f')).length, 5);
      assert.deepEqual(await listFiles(d.nas), before);
    }

    // An unmounted share (no NAS root) is a failure too, not "file already gone".
    await rm(d.nas, { recursive: true });
    const gone = makeSweeper(localNasFiles(d.nas), { days: 30 });
    assert.equal((await gone.sweeper.sweepOnce()).ok, false);
    assert.equal((await names('cam-f')).length, 5);

    // A file already gone is fine once the NAS is back: the rows go too.
    await mkdir(join(d.nas, 'cam-f'), { recursive: true });
    const h = makeSweeper(localNasFiles(d.nas), { days: 30 });
    const summary = await h.sweeper.sweepOnce();
    assert.equal(summary.ok, true);
    assert.equal(summary.deleted.age.segments, 5);
    assert.deepEqual(await names('cam-f'), []);
  });

  it('stops the round at the first failing remove, keeping that segment and all after it', async () => {
    const d = await dirs();
    for (let i = 0; i < 4; i++)
      await addSegment(d, { camera: 'cam-g', name: `g-${i}.m4s`, startAt: ago((40 - i) * DAY) });
    const good = localNasFiles(d.nas);
    let calls = 0;
    const flaky: NasFiles = {
      remove: (camera, name) =>
        ++calls === 2 ? Promise.reject(new Error('EIO')) : good.remove(camera, name),
      usage: good.usage,
    };
    const h = makeSweeper(flaky, { days: 30 });
    const summary = await h.sweeper.sweepOnce();
    assert.equal(summary.ok, false);
    assert.deepEqual(await names('cam-g'), ['g-1.m4s', 'g-2.m4s', 'g-3.m4s']);
    assert.deepEqual(await listFiles(join(d.nas, 'cam-g')), ['g-1.m4s', 'g-2.m4s', 'g-3.m4s']);
  });
});

/** Mounts a real 8 MiB tmpfs as the NAS; null (test skipped) where mounting is refused. */
async function tmpfsNas(t: TestContext): Promise<{ dir: string; unmount: () => Promise<void> } | null> {
  const dir = await tempDir('cctv-nas-tmpfs-');
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
  } catch (err) {
    skipRootOnly(
      t,
      `cannot mount a tmpfs for the watermark test (needs root): ${(err as Error).message.trim()}`,
    );
    return null;
  }
  let mounted = true;
  const unmount = async () => {
    if (!mounted) return;
    mounted = false;
    await run('umount', [dir]);
  };
  onCleanup(unmount); // also when an assertion throws before the test's own finally
  return { dir, unmount };
}

const SEG_BYTES = 400 * 1024;
const base = ago(2 * DAY);

/** 18 segments of 400 KiB, alternating between two cameras, 4 s apart: ~88% of the tmpfs. */
async function fillNas(d: Dirs): Promise<void> {
  for (let i = 0; i < 18; i++) {
    const camera = i % 2 === 0 ? 'cam-w1' : 'cam-w2';
    await addSegment(d, {
      camera,
      name: `w-${String(i).padStart(2, '0')}.m4s`,
      startAt: new Date(base.getTime() + i * 4000),
      bytes: SEG_BYTES,
      init: `init-${camera}.mp4`,
    });
  }
  for (const camera of ['cam-w1', 'cam-w2']) await addInit(d.nas, camera, `init-${camera}.mp4`);
  // Older than all of them, but not on the NAS yet: never the watermark's to delete.
  await addSegment(d, {
    camera: 'cam-w1',
    name: 'w-buffered.m4s',
    startAt: ago(9 * DAY),
    location: 'buffer',
  });
}

const freePct = (u: { totalBytes: number; freeBytes: number }) => (100 * u.freeBytes) / u.totalBytes;

describe('free-space watermark (real tmpfs)', () => {
  it('deletes the oldest NAS segments of any camera until free space is back above the mark', async (t) => {
    const nas = await tmpfsNas(t);
    if (!nas) return;
    try {
      const d = await dirs(nas.dir);
      await fillNas(d);
      const files = localNasFiles(d.nas);
      const start = await files.usage();
      assert.ok(freePct(start) < 25 && start.totalBytes === 8 * 1024 * 1024, JSON.stringify(start));
      const expected = Math.ceil((Math.ceil(start.totalBytes * 0.25) - start.freeBytes) / SEG_BYTES);

      const h = makeSweeper(files, { days: 0, nasMinFreePercent: 25 });
      const summary = await h.sweeper.sweepOnce();
      assert.equal(summary.ok, true);
      assert.equal(summary.blocked, null);
      assert.equal(expected, 3);
      assert.deepEqual(
        h.deleted.map((x) => `${x.camera}/${x.name}:${x.reason}`),
        ['cam-w1/w-00.m4s:watermark', 'cam-w2/w-01.m4s:watermark', 'cam-w1/w-02.m4s:watermark'],
      );
      const after = await files.usage();
      assert.ok(freePct(after) >= 25, JSON.stringify(after));
      assert.deepEqual(summary.usage, after);
      assert.equal((await names('cam-w1')).length + (await names('cam-w2')).length, 16);
      assert.ok((await names('cam-w1')).includes('w-buffered.m4s'));
      assert.equal((await listFiles(d.nas)).length, 15 + 2);
      // Above the mark now: the next sweep leaves everything alone.
      await h.sweeper.sweepOnce();
      assert.equal(h.deleted.length, 3);
    } finally {
      await nas.unmount();
    }
  });

  it('never deletes protected footage, and reports when the mark cannot be reached', async (t) => {
    const nas = await tmpfsNas(t);
    if (!nas) return;
    try {
      const d = await dirs(nas.dir);
      await fillNas(d);
      const at = (s: number) => new Date(base.getTime() + s * 1000);
      // cam-w1's w-00 [0,4) and w-02 [8,12) are covered (pad 1 s); cam-w2's w-01 is not.
      await addEvent('cam-w1', at(0), at(11));
      const files = localNasFiles(d.nas);
      const h = makeSweeper(files, { days: 0, nasMinFreePercent: 25, eventPadS: 1 });
      await h.sweeper.sweepOnce();
      assert.deepEqual(
        h.deleted.map((x) => x.name),
        ['w-01.m4s', 'w-03.m4s', 'w-04.m4s'],
      );
      assert.equal(h.blocked.length, 0);

      // Everything left protected, and a mark far out of reach: report, delete nothing, return.
      await addEvent('cam-w1', at(0), at(80));
      await addEvent('cam-w2', at(0), at(80));
      const strict = makeSweeper(files, { days: 0, nasMinFreePercent: 90, eventPadS: 1 });
      const summary = await strict.sweeper.sweepOnce();
      assert.equal(summary.ok, true);
      assert.equal(strict.deleted.length, 0);
      assert.equal(strict.blocked.length, 1);
      assert.deepEqual(summary.blocked, strict.blocked[0]);
      assert.equal(strict.blocked[0]?.targetFreeBytes, Math.ceil(8 * 1024 * 1024 * 0.9));
      assert.ok((strict.blocked[0]?.missingBytes ?? 0) > 0);
      assert.equal(strict.logs.filter((l) => l.level === 40).length, 1);
      assert.match(strict.logs[0]?.msg ?? '', /protected/);
      assert.equal((await listFiles(d.nas)).length, 15 + 2);

      // Once the events' retention has passed they protect nothing any more.
      strict.clock.now = new Date(at(80).getTime() + 90 * DAY + 60_000);
      await strict.sweeper.sweepOnce();
      assert.ok(strict.deleted.length >= 12, String(strict.deleted.length));
      assert.equal(strict.deleted[0]?.name, 'w-00.m4s');
    } finally {
      await nas.unmount();
    }
  });
});

/** A NAS whose first remove waits until released: a round caught in the middle. */
function gatedNas(nas: string) {
  const good = localNasFiles(nas);
  let entered!: () => void;
  const inRemove = new Promise<void>((r) => {
    entered = r;
  });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const files: NasFiles = {
    async remove(camera, name) {
      entered();
      await gate;
      return good.remove(camera, name);
    },
    usage: good.usage,
  };
  return { files, inRemove, release };
}

describe('lifecycle', () => {
  it('sweeps shortly after start, then every interval, and stop() ends the wait at once', async () => {
    const d = await dirs();
    await addSegment(d, { camera: 'cam-l', name: 'l-0.m4s', startAt: ago(40 * DAY) });
    const waits: number[] = [];
    const delay: Delay = (ms, signal) => {
      waits.push(ms);
      if (waits.length === 1) return Promise.resolve();
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    };
    const h = makeSweeper(localNasFiles(d.nas), { days: 30, intervalS: 300 }, { delay });
    h.sweeper.start();
    await waitFor('first sweep', () => h.sweeps.length === 1 && waits.length === 2);
    assert.deepEqual(waits, [60_000, 300_000]);
    assert.deepEqual(await names('cam-l'), []);
    await h.sweeper.stop();
    assert.equal(h.sweeps.length, 1);
  });

  it('stop() waits for the segment in progress, then ends the sweep cleanly', async () => {
    const d = await dirs();
    for (let i = 0; i < 4; i++)
      await addSegment(d, { camera: 'cam-s', name: `s-${i}.m4s`, startAt: ago((40 - i) * DAY) });
    const gated = gatedNas(d.nas);
    const h = makeSweeper(
      gated.files,
      { days: 30 },
      { delay: () => Promise.resolve(), firstSweepDelayMs: 0 },
    );
    h.sweeper.start();
    await gated.inRemove;
    let stopped = false;
    const stopping = h.sweeper.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(stopped, false, 'stop() waits for the remove in flight');
    gated.release();
    await stopping;
    assert.equal(h.sweeps.length, 1);
    assert.equal(h.sweeps[0]?.aborted, true);
    assert.deepEqual(await names('cam-s'), ['s-1.m4s', 's-2.m4s', 's-3.m4s']);
    assert.deepEqual(await listFiles(join(d.nas, 'cam-s')), ['s-1.m4s', 's-2.m4s', 's-3.m4s']);
  });
});

describe('several gateways on one database: one round at a time', () => {
  const quiet = pino({ level: 'silent' });

  /**
   * `count` expired segments of `camera`, and two gateways' round locks; the first gateway's
   * round is started and caught in its first remove.
   */
  async function roundInHand(camera: string, count: number) {
    const d = await dirs();
    for (let i = 0; i < count; i++)
      await addSegment(d, { camera, name: `${camera}-${i}.m4s`, startAt: ago((40 - i) * DAY) });
    const [lockOne, lockTwo] = [advisoryRoundLock(db.gateway, quiet), advisoryRoundLock(db.gateway, quiet)];
    onCleanup(() => Promise.all([lockOne.close(), lockTwo.close()]));
    const gated = gatedNas(d.nas);
    const first = makeSweeper(gated.files, { days: 30 }, { roundLock: lockOne }).sweeper.sweepOnce();
    await gated.inRemove;
    return { d, lockTwo, gated, first };
  }

  it('skips a round while another gateway sweeps, and sweeps again once it is done', async () => {
    const { d, lockTwo, gated, first } = await roundInHand('cam-g', 3);
    let skipped = 0;
    const two = makeSweeper(
      localNasFiles(d.nas),
      { days: 30 },
      { roundLock: lockTwo, onSkipped: () => skipped++ },
    );
    const meanwhile = await two.sweeper.sweepOnce();
    assert.equal(meanwhile.skipped, true);
    assert.equal(meanwhile.ok, true);
    assert.equal(skipped, 1);
    assert.equal(two.deleted.length, 0);
    gated.release();
    const done = await first;
    assert.deepEqual([done.ok, done.skipped, done.deleted.age.segments], [true, false, 3]);
    const after = await two.sweeper.sweepOnce();
    assert.deepEqual([after.ok, after.skipped], [true, false]);
    assert.equal(skipped, 1);
  });

  it('stops a round whose lock session died, whose lock PostgreSQL frees at once', async () => {
    const { lockTwo, gated, first } = await roundInHand('cam-h', 4);
    assert.equal(await lockTwo.tryAcquire(), null);
    // The round's session ends (its gateway's host gone, a database restart): PostgreSQL drops
    // the lock with it, and the round must not go on as if it still held it.
    const admin = createPgPool(db.superuser, 1, () => {});
    onCleanup(() => admin.end());
    const ended = await admin.query(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
        WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND objsubid = 2 AND granted`,
      [0x63637476, 1],
    );
    assert.equal(ended.rowCount, 1);
    const taken = await waitFor('the lock free for another gateway', () => lockTwo.tryAcquire());
    gated.release();
    const summary = await first;
    assert.equal(summary.aborted, true);
    assert.equal(summary.deleted.age.segments, 1, 'the segment in hand is finished, no other');
    assert.deepEqual(await names('cam-h'), ['cam-h-1.m4s', 'cam-h-2.m4s', 'cam-h-3.m4s']);
    await taken.release();
  });
});

describe('in the gateway', () => {
  it('reports deletions and NAS free space as metrics', async () => {
    const gw = await startGateway(db, { GATEWAY_RETENTION_DAYS: '7', GATEWAY_NAS_MIN_FREE_PERCENT: '0' });
    const d: Dirs = { nas: gw.config.nasDir, buffer: gw.config.bufferDir };
    await gw.gateway.reconciled(); // its start-up check of the NAS would take our rows for lost ones
    // The gateway runs on the real clock: these are years old.
    const old = new Date('2020-01-01T00:00:00.000Z');
    await addSegment(d, { camera: 'cam-m', name: 'm-0.m4s', startAt: old, bytes: 2000 });
    await addSegment(d, {
      camera: 'cam-m',
      name: 'm-1.m4s',
      startAt: new Date(Date.now() - DAY),
      bytes: 3000,
    });
    const summary = await gw.gateway.retention.sweepOnce();
    assert.equal(summary.ok, true);
    assert.equal(await metric(gw.url, 'cctv_gateway_retention_deleted_segments_total', 'reason="age"'), 1);
    assert.equal(await metric(gw.url, 'cctv_gateway_retention_deleted_bytes_total', 'reason="age"'), 2000);
    assert.equal(
      await metric(gw.url, 'cctv_gateway_retention_deleted_segments_total', 'reason="watermark"'),
      0,
    );
    assert.equal(await metric(gw.url, 'cctv_gateway_retention_blocked_total'), 0);
    assert.ok((await metric(gw.url, 'cctv_gateway_nas_free_bytes')) > 0);
    assert.deepEqual(await names('cam-m'), ['m-1.m4s']);
    assert.deepEqual(await listFiles(join(d.nas, 'cam-m')), ['m-1.m4s']);
    await gw.stop();
  });
});
