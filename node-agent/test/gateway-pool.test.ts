/**
 * The gateway pool, alone with an injected clock, and under the uploader and the snapshot store
 * with an injected PUT that answers for several gateways: which answers move an upload to the
 * next gateway at once, which are retried where they are, the backoff once all are down, the
 * cool-down and the way back to the first, and the init files a gateway gets after a failover.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { tempDir, waitFor } from '../../test/support/index.ts';
import { SnapshotStore } from '../src/analysis/snapshot-store.ts';
import { readFinishedSegments } from '../src/spool/scan.ts';
import { playlistName } from '../src/spool/segment.ts';
import { GatewayPool, isGatewayRefusal } from '../src/uploader/gateway-pool.ts';
import type { PutFile } from '../src/uploader/put-file.ts';
import { Uploader } from '../src/uploader/uploader.ts';
import { capturingLogger } from './in-process.ts';
import { TEST_RUN_ID, writeRun } from './spool-run.ts';

const A = 'https://a.gateway.test:8090';
const B = 'https://b.gateway.test:8090';
const C = 'https://c.gateway.test:8090';
const CAMERA = 'pool-cam';
const COOL_DOWN_MS = 30_000;
/** The gateway's one-letter name in what the tests record. */
const letter = (url: string) => new URL(url).hostname[0] as string;
/** Nothing here waits on a real clock or socket: poll often. */
const until = (what: string, probe: () => boolean) => waitFor(what, probe, 5000, 2);

function testPool(urls: string[]) {
  const clock = { t: 1_000_000 };
  const switches: string[] = [];
  const { logger, lines } = capturingLogger();
  const pool = new GatewayPool({
    urls,
    coolDownMs: COOL_DOWN_MS,
    logger,
    now: () => clock.t,
    onSwitch: (from, to, why) => switches.push(`${letter(from)}>${letter(to)} ${why}`),
  });
  return { pool, clock, switches, lines, logger };
}

describe('GatewayPool', () => {
  it('goes down the list in order, one switch per failed gateway, and backs off once all are down', () => {
    const { pool, switches, lines } = testPool([A, B, C]);
    assert.equal(pool.pick(), A);
    assert.equal(pool.pick(), A);
    assert.equal(pool.failed(A, '503 buffer_full'), true, 'B is believed healthy: retry at once');
    assert.equal(pool.current, B);
    assert.equal(pool.pick(), B);
    assert.equal(pool.failed(A, 'connect ECONNREFUSED'), true, 'another queue finds A down too');
    assert.equal(pool.failed(B, 'upload timed out'), true);
    assert.equal(pool.pick(), C);
    assert.equal(pool.failed(C, '502'), false, 'all down: the caller backs off');
    assert.equal(pool.pick(), A, 'all down: the one left alone longest');
    assert.deepEqual(switches, ['a>b failover', 'b>c failover']);
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
    assert.deepEqual(
      warned.map((l) => [l.msg, l.from, l.to]),
      [
        ['gateway failover: uploading to the next gateway', A, B],
        ['gateway failover: uploading to the next gateway', B, C],
        ['every gateway refuses uploads: retrying with backoff', undefined, undefined],
      ],
    );
  });

  it('after the cool-down one request tries the first again, and its answer brings the order back', () => {
    const { pool, clock, switches } = testPool([A, B]);
    pool.failed(A, '503');
    clock.t += COOL_DOWN_MS - 1;
    assert.equal(pool.pick(), B, 'still cooling down');
    clock.t += 2;
    assert.equal(pool.pick(), A, 'one trial');
    assert.equal(pool.pick(), B, 'the others keep to B meanwhile');
    pool.succeeded(A);
    assert.equal(pool.pick(), A);
    assert.equal(pool.current, A);
    assert.deepEqual(switches, ['a>b failover', 'b>a return']);
  });

  it('a failed trial leaves it down for another cool-down; a trial never reported is taken as lost', () => {
    const { pool, clock, switches } = testPool([A, B]);
    pool.failed(A, '503');
    clock.t += COOL_DOWN_MS + 1;
    assert.equal(pool.pick(), A);
    assert.equal(pool.failed(A, 'connect ECONNREFUSED'), true);
    assert.equal(pool.pick(), B);
    clock.t += COOL_DOWN_MS + 1;
    assert.equal(pool.pick(), A, 'tried again after the next cool-down');
    clock.t += 120_001;
    assert.equal(pool.pick(), A, 'the trial never came back: another one');
    assert.deepEqual(switches, ['a>b failover']);
  });

  it('switches to a gateway due for a trial only once it answers', () => {
    const { pool, clock, switches } = testPool([A, B]);
    pool.failed(A, '503');
    clock.t += COOL_DOWN_MS + 1;
    assert.equal(pool.failed(B, '503'), true, 'A is due for a trial: retry at once');
    assert.equal(pool.current, B);
    assert.equal(pool.pick(), A);
    assert.equal(pool.failed(A, 'connect ECONNREFUSED'), false);
    assert.equal(pool.current, B, 'no switch to a gateway that never answered');
    clock.t += COOL_DOWN_MS + 1;
    assert.equal(pool.pick(), A);
    pool.succeeded(A);
    assert.equal(pool.current, A);
    assert.deepEqual(switches, ['a>b failover', 'b>a return']);
  });

  it('keeps a gateway away for its Retry-After when that is longer than the cool-down', () => {
    const { pool, clock } = testPool([A, B]);
    pool.failed(A, '503 buffer_full', 120_000);
    clock.t += COOL_DOWN_MS + 1;
    assert.equal(pool.pick(), B);
    clock.t += 90_000;
    assert.equal(pool.pick(), A);
  });

  it('an answer from a gateway in its cool-down brings it back only when no other works', () => {
    const { pool, clock, switches } = testPool([A, B]);
    pool.failed(A, '503');
    clock.t += 10;
    pool.succeeded(A); // a request sent before A was marked down
    assert.equal(pool.pick(), B);
    pool.failed(B, '503');
    pool.succeeded(A);
    assert.equal(pool.pick(), A);
    assert.deepEqual(switches, ['a>b failover', 'b>a return']);
  });

  it('takes 5xx, 408 and 429 as refusals of service, not what refuses the content or asks for auth', () => {
    for (const status of [500, 502, 503, 504, 408, 429])
      assert.equal(isGatewayRefusal(status), true, `${status}`);
    for (const status of [200, 201, 400, 401, 403, 404, 409, 411, 413, 415, 422])
      assert.equal(isGatewayRefusal(status), false, `${status}`);
  });
});

type Answer = number | { status: number; headers?: Record<string, string>; body?: string } | Error;

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8090'), { code: 'ECONNREFUSED' });
const timedOut = () => new Error('upload timed out after 60000 ms');
/** What the gateway answers an upload whose name holds other bytes. */
const conflict = (sha256: string) => ({
  status: 409,
  body: JSON.stringify({
    error: {
      code: 'conflict',
      message: `x is already stored with sha256 ${sha256}; a segment name cannot be reused`,
    },
  }),
});

/**
 * PUTs answered by `answer(gateway letter, file kind, nth request to that gateway)`; `sent`
 * notes `gateway:file:status` with `init` or the segment's number as the file.
 */
function fakeGateways(answer: (gateway: string, file: string, n: number, sha256: string) => Answer) {
  const sent: string[] = [];
  const counts = new Map<string, number>();
  const put: PutFile = async (url, _file, headers) => {
    const gateway = letter(url.href);
    const name = url.pathname.split('/').at(-1) ?? '';
    const file = name.startsWith('init-') ? 'init' : name.endsWith('.jpg') ? 'jpg' : name.slice(-10, -4);
    const n = (counts.get(gateway) ?? 0) + 1;
    counts.set(gateway, n);
    const a = answer(gateway, file, n, headers[SEGMENT_HEADERS.sha256] ?? '');
    if (a instanceof Error) {
      sent.push(`${gateway}:${file}:error`);
      throw a;
    }
    const { status, headers: h = {}, body = '{}' } = typeof a === 'number' ? { status: a } : a;
    sent.push(`${gateway}:${file}:${status}`);
    const retryAfter = h['retry-after'];
    return { status, body, ...(retryAfter ? { retryAfterMs: Number(retryAfter) * 1000 } : {}) };
  };
  return { put, sent };
}

/** An uploader over gateways A and B (a fake clock that sleeps move on), `count` segments waiting. */
async function uploaderOn(answer: Parameters<typeof fakeGateways>[0], count = 1) {
  const spoolDir = await tempDir('agent-pool-');
  const dir = join(spoolDir, CAMERA);
  await writeRun(dir, count);
  const { pool, clock, switches, lines, logger } = testPool([A, B]);
  const gateways = fakeGateways(answer);
  const delays: number[] = [];
  const uploaded: string[] = [];
  const skipped: string[] = [];
  const uploader = new Uploader({
    gateways: pool,
    nodeId: 'pool-node',
    spoolDir,
    cameraIds: [CAMERA],
    logger,
    put: gateways.put,
    backoff: { initialMs: 500, maxMs: 4000 },
    sleep: async (ms) => {
      delays.push(ms);
      clock.t += ms;
      return true;
    },
    onUploaded: (s) => uploaded.push(s.name.slice(-10, -4)),
    onFailed: (s, _reason, willRetry) => {
      if (!willRetry) skipped.push(s.name.slice(-10, -4));
    },
  });
  after(() => uploader.stop());
  await uploader.start();
  /** Records `n` more segments of the run and hands them over as the recorder would. */
  const record = async (n: number) => {
    const from = (await readFinishedSegments(CAMERA, dir, playlistName(TEST_RUN_ID))).length;
    await writeRun(dir, n, from);
    for (const s of await readFinishedSegments(CAMERA, dir, playlistName(TEST_RUN_ID))) uploader.enqueue(s);
  };
  return { uploader, pool, clock, switches, lines, sent: gateways.sent, delays, uploaded, skipped, record };
}

describe('uploads over several gateways', () => {
  const outages: [string, () => Answer, string][] = [
    ['500', () => 500, '500'],
    ['503 with Retry-After', () => ({ status: 503, headers: { 'retry-after': '5' } }), '503'],
    ['408', () => 408, '408'],
    ['429', () => 429, '429'],
    ['a refused connection', refused, 'error'],
    ['a timeout', timedOut, 'error'],
  ];
  for (const [label, outage, noted] of outages)
    it(`moves the segment to the next gateway at once on ${label}, its init first`, async () => {
      const up = await uploaderOn((gw, file) => (gw === 'a' && file !== 'init' ? outage() : 201));
      await until('the segment uploaded', () => up.uploaded.length === 1);
      assert.deepEqual(up.sent, ['a:init:201', `a:000000:${noted}`, 'b:init:201', 'b:000000:201']);
      assert.deepEqual(up.delays, [], 'no backoff while another gateway works');
      assert.deepEqual(up.switches, ['a>b failover']);
    });

  for (const status of [400, 411, 413, 415, 422])
    it(`skips a segment refused for its content (${status}) without failing over`, async () => {
      const up = await uploaderOn((_gw, file) => (file === '000000' ? status : 201), 2);
      await until('both segments done', () => up.uploaded.length === 1 && up.skipped.length === 1);
      assert.deepEqual(up.sent, ['a:init:201', `a:000000:${status}`, 'a:000001:201']);
      assert.deepEqual(up.switches, []);
    });

  for (const status of [409, 401])
    it(`retries a ${status} at the same gateway with backoff`, async () => {
      const up = await uploaderOn((gw, file, n) =>
        gw === 'a' && file === '000000' && n === 2 ? status : 201,
      );
      await until('the segment uploaded', () => up.uploaded.length === 1);
      assert.deepEqual(up.sent, ['a:init:201', `a:000000:${status}`, 'a:000000:201']);
      assert.deepEqual(up.delays, [500]);
      assert.deepEqual(up.switches, []);
    });

  it('with every gateway down, backs off (honouring Retry-After), trying the one left alone longest', async () => {
    const up = await uploaderOn((gw, _file, n) => {
      if (gw === 'a') return { status: 503, headers: { 'retry-after': '3' } };
      return n <= 2 ? refused() : 201;
    });
    await until('the segment uploaded', () => up.uploaded.length === 1);
    assert.deepEqual(up.sent, [
      'a:init:503',
      'b:init:error',
      'a:init:503',
      'b:init:error',
      'a:init:503',
      'b:init:201',
      'b:000000:201',
    ]);
    assert.deepEqual(up.delays, [500, 3000, 2000, 4000]);
    assert.deepEqual(up.switches, ['a>b failover']);
    assert.equal(up.lines.filter((l) => l.includes('every gateway refuses uploads')).length, 1);
  });

  it('comes back to the first gateway after the cool-down, without sending it the init again', async () => {
    const up = await uploaderOn((gw, file, n) => (gw === 'a' && file === '000001' && n === 3 ? 503 : 201), 3);
    await until('three segments uploaded', () => up.uploaded.length === 3);
    assert.deepEqual(up.sent, [
      'a:init:201',
      'a:000000:201',
      'a:000001:503',
      'b:init:201',
      'b:000001:201',
      'b:000002:201',
    ]);
    up.clock.t += COOL_DOWN_MS + 1;
    await up.record(2);
    await until('two more uploaded', () => up.uploaded.length === 5);
    assert.deepEqual(up.sent.slice(6), ['a:000003:201', 'a:000004:201']);
    assert.deepEqual(up.switches, ['a>b failover', 'b>a return']);
    assert.deepEqual(up.delays, []);
  });

  it('takes a 409 on an init as done only when the gateway holds the same bytes', async () => {
    const up = await uploaderOn((gw, file, n, sha256) => {
      if (gw === 'a') return file === 'init' ? 201 : 500;
      if (file === 'init' && n === 1) return conflict('0'.repeat(64));
      if (file === 'init') return conflict(sha256);
      return 201;
    });
    await until('the segment uploaded', () => up.uploaded.length === 1);
    assert.deepEqual(up.sent, ['a:init:201', 'a:000000:500', 'b:init:409', 'b:init:409', 'b:000000:201']);
    assert.deepEqual(up.delays, [500], 'other bytes under the name: retried after a backoff');
  });
});

describe('snapshots over several gateways', () => {
  it('moves a snapshot to the next gateway at once when the first refuses service', async () => {
    const dir = await tempDir('agent-pool-snap-');
    const name = `${randomUUID()}-1.jpg`;
    await mkdir(join(dir, CAMERA), { recursive: true });
    await writeFile(join(dir, CAMERA, name), Buffer.from('a jpeg'));
    const { pool, switches } = testPool([A, B]);
    const gateways = fakeGateways((gw) => (gw === 'a' ? 503 : 201));
    const stored: string[] = [];
    const delays: number[] = [];
    const store = new SnapshotStore({
      dir,
      gateways: pool,
      nodeId: 'pool-node',
      logger: capturingLogger().logger,
      put: gateways.put,
      sleep: async (ms) => {
        delays.push(ms);
        return true;
      },
      onStored: (camera) => stored.push(camera),
    });
    after(() => store.stop());
    await store.start();
    await until('the snapshot stored', () => stored.length === 1);
    assert.deepEqual(gateways.sent, ['a:jpg:503', 'b:jpg:201']);
    assert.deepEqual(delays, []);
    assert.deepEqual(switches, ['a>b failover']);
  });
});
