import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import pino from 'pino';
import { freePort, tempDir, waitFor } from '../../test/support/index.ts';
import { SpoolQuota } from '../src/spool/quota.ts';
import { readFinishedSegments, spoolUsedBytes } from '../src/spool/scan.ts';
import { playlistName } from '../src/spool/segment.ts';
import { GatewayPool } from '../src/uploader/gateway-pool.ts';
import { parseRetryAfter } from '../src/uploader/put-file.ts';
import { emptyState, loadUploadState, STATE_FILE } from '../src/uploader/upload-state.ts';
import { Uploader } from '../src/uploader/uploader.ts';
import { TEST_RUN_ID, writeRun } from './spool-run.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const camera = 'up-cam';
const runId = TEST_RUN_ID;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const onePool = (url: string) => new GatewayPool({ urls: [url], coolDownMs: 30_000, logger });

interface Received {
  name: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  status: number;
}

/** What the stand-in answers: a status, or a status with response headers. */
type Planned = number | { status: number; headers: Record<string, string> };

/** A small gateway stand-in with injected faults: `plan(name, attempt)` picks the answer. */
async function startReceiver(plan: (name: string, attempt: number) => Planned) {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const name = decodeURIComponent(req.url?.split('/').at(-1) ?? '');
      const attempt = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, attempt);
      const planned = plan(name, attempt);
      const { status, headers } = typeof planned === 'number' ? { status: planned, headers: {} } : planned;
      received.push({ name, headers: req.headers, body: Buffer.concat(chunks), status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(
        status >= 400 ? JSON.stringify({ error: { code: 'INJECTED', message: `status ${status}` } }) : '{}',
      );
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  return { url: `http://127.0.0.1:${port}`, received, stored: () => received.filter((r) => r.status < 300) };
}

describe('uploader against a fault-injecting HTTP receiver', () => {
  it('uploads the init file first, then segments in order, retrying 503s with backoff and skipping a 400', async () => {
    const spoolDir = await tempDir('agent-up-');
    const dir = join(spoolDir, camera);
    await writeRun(dir, 4);
    const gw = await startReceiver((name, attempt) => {
      if (name.endsWith('-000000.m4s') && attempt <= 2) return 503;
      if (name.endsWith('-000002.m4s')) return 400;
      return 201;
    });
    const delays: number[] = [];
    const failures: string[] = [];
    const uploaded: string[] = [];
    const make = () =>
      new Uploader({
        gateways: onePool(gw.url),
        nodeId: 'up-node',
        spoolDir,
        cameraIds: [camera],
        logger,
        backoff: { initialMs: 500, maxMs: 4000 },
        sleep: async (ms) => {
          delays.push(ms);
          return true;
        },
        onUploaded: (s) => uploaded.push(s.name),
        onFailed: (s, reason, willRetry) =>
          failures.push(`${s.name} ${willRetry ? 'retry' : 'skip'} ${reason}`),
      });
    let uploader = make();
    after(() => uploader.stop());
    await uploader.start();
    await waitFor(
      'four segments done',
      () => uploaded.length === 3 && failures.some((f) => f.includes('skip')),
    );
    await waitFor('backlog drained', () => uploader.backlog(camera).files === 0);

    const initBody = Buffer.from('init-bytes');
    const initRemote = `init-${sha(initBody).slice(0, 16)}.mp4`;
    assert.equal(gw.received[0]?.name, initRemote, 'init goes first');
    assert.equal(gw.received[0]?.headers[SEGMENT_HEADERS.sha256], sha(initBody));
    assert.equal(gw.received[0]?.headers[SEGMENT_HEADERS.node], 'up-node');
    assert.deepEqual(
      gw.received.slice(1).map((r) => `${r.name.slice(-10)}:${r.status}`),
      [
        '000000.m4s:503',
        '000000.m4s:503',
        '000000.m4s:201',
        '000001.m4s:201',
        '000002.m4s:400',
        '000003.m4s:201',
      ],
    );
    assert.deepEqual(delays, [500, 1000]);
    assert.equal(failures.length, 3);
    assert.match(failures[2] ?? '', /000002\.m4s skip 400 INJECTED: status 400/);

    const seg1 = gw.received.find((r) => r.name.endsWith('000001.m4s'));
    assert.ok(seg1);
    assert.equal(seg1.headers[SEGMENT_HEADERS.sha256], sha(seg1.body));
    assert.deepEqual(seg1.body, await readFile(join(dir, `${runId}-000001.m4s`)));
    assert.equal(seg1.headers[SEGMENT_HEADERS.node], 'up-node');
    assert.equal(seg1.headers[SEGMENT_HEADERS.start], '2026-11-23T10:15:02.000Z');
    assert.equal(seg1.headers[SEGMENT_HEADERS.durationMs], '2000');
    assert.equal(seg1.headers[SEGMENT_HEADERS.init], initRemote);
    assert.equal(seg1.headers[SEGMENT_HEADERS.codec], 'hevc');
    assert.equal((await loadUploadState(dir)).lastUploaded, `${runId}-000003.m4s`);

    // A restart resumes after the last upload: nothing re-sent, the init not again either.
    await uploader.stop();
    await writeRun(dir, 2, 4);
    const before = gw.received.length;
    uploader = make();
    await uploader.start();
    await waitFor('the two new segments', () => uploaded.length === 5);
    assert.deepEqual(
      gw.received.slice(before).map((r) => r.name.slice(-10)),
      ['000004.m4s', '000005.m4s'],
    );

    // A live segment handed over by the recorder goes up too.
    await writeRun(dir, 1, 6);
    const live = (await readFinishedSegments(camera, dir, playlistName(runId))).at(-1);
    assert.ok(live);
    uploader.enqueue(live);
    uploader.enqueue(live); // a duplicate report is ignored
    await waitFor('the live segment', () => uploaded.length === 6);
    await uploader.stop();
    assert.equal(gw.received.filter((r) => r.name === live.name).length, 1);

    // Uploaded segments stay in the spool until the quota needs their room: oldest go first.
    const exists = (n: number) =>
      access(join(dir, `${runId}-${String(n).padStart(6, '0')}.m4s`)).then(
        () => true,
        () => false,
      );
    assert.deepEqual(await Promise.all([0, 1, 3, 4, 5, 6].map(exists)), [true, true, true, true, true, true]);
    const used = await spoolUsedBytes(spoolDir);
    const quota = new SpoolQuota({
      quotaBytes: used - 1,
      minFreeBytes: 0,
      lowWater: 0.75,
      cameras: () => uploader.all(),
      usedBytes: () => spoolUsedBytes(spoolDir),
      freeBytes: async () => 1024 ** 4,
      logger,
    });
    const result = await quota.enforce();
    assert.equal(result.dropped, 0);
    assert.ok(result.evicted >= 2, `evicted ${result.evicted}`);
    const left = await Promise.all([0, 1, 2, 3, 4, 5, 6].map(exists)); // 2 was refused: kept, evictable
    assert.deepEqual(left.slice(0, result.evicted), new Array(result.evicted).fill(false), 'oldest first');
    assert.ok(left.at(-1), 'the newest stays');
    assert.ok((await spoolUsedBytes(spoolDir)) <= (used - 1) * 0.75);
    assert.ok(await exists(6));
  });

  it('stop() cuts a retry wait short while the gateway is down', async () => {
    const spoolDir = await tempDir('agent-up-');
    await writeRun(join(spoolDir, camera), 1);
    const gw = await startReceiver(() => 503);
    const uploader = new Uploader({
      gateways: onePool(gw.url),
      nodeId: 'up-node',
      spoolDir,
      cameraIds: [camera],
      logger,
    });
    after(() => uploader.stop());
    await uploader.start();
    await waitFor('a failed attempt', () => gw.received.length >= 2);
    const t0 = Date.now();
    await uploader.stop();
    assert.ok(Date.now() - t0 < 1000);
    // The init file is refused first; the segment stays in the backlog.
    assert.ok(gw.received.every((r) => r.name.startsWith('init-')));
    assert.deepEqual(uploader.backlog(camera), {
      files: 1,
      bytes: 'segment 0 '.repeat(50).length,
      oldestAt: new Date('2026-11-23T10:15:00.000Z'),
    });
  });

  it("waits at least the gateway's Retry-After when its buffer is full, and sends the node's token", async () => {
    const spoolDir = await tempDir('agent-up-');
    await writeRun(join(spoolDir, camera), 2);
    const full = (retryAfter: string) => ({ status: 503, headers: { 'retry-after': retryAfter } });
    const gw = await startReceiver((name, attempt) => {
      if (name.endsWith('-000000.m4s') && attempt === 1) return full('7');
      if (name.endsWith('-000000.m4s') && attempt === 2) return full('86400'); // capped at 10 minutes
      if (name.endsWith('-000001.m4s') && attempt === 1) return full('Wed, 21 Oct 2026 07:28:00 GMT');
      return 201;
    });
    const delays: number[] = [];
    const uploaded: string[] = [];
    const uploader = new Uploader({
      gateways: onePool(gw.url),
      gatewayToken: 'upload-token-of-up-node',
      nodeId: 'up-node',
      spoolDir,
      cameraIds: [camera],
      logger,
      backoff: { initialMs: 500, maxMs: 4000 },
      sleep: async (ms) => {
        delays.push(ms);
        return true;
      },
      onUploaded: (s) => uploaded.push(s.name),
    });
    after(() => uploader.stop());
    await uploader.start();
    await waitFor('both segments uploaded', () => uploaded.length === 2);
    await uploader.stop();
    // Retry-After when it is longer than the backoff; a date is not understood: backoff alone.
    assert.deepEqual(delays, [7000, 600_000, 500]);
    assert.deepEqual(
      gw.received.slice(1).map((r) => `${r.name.slice(-10)}:${r.status}`),
      ['000000.m4s:503', '000000.m4s:503', '000000.m4s:201', '000001.m4s:503', '000001.m4s:201'],
    );
    for (const r of gw.received)
      assert.equal(r.headers.authorization, 'Bearer upload-token-of-up-node', r.name);
  });
});

describe('upload state', () => {
  it('reads a state file cut short by a power loss as nothing sent yet (the spool goes up again)', async () => {
    const dir = await tempDir('upload-state-');
    await writeFile(join(dir, STATE_FILE), '');
    assert.deepEqual(await loadUploadState(dir), emptyState());
    await writeFile(join(dir, STATE_FILE), '{"version":1,"lastUploa');
    assert.deepEqual(await loadUploadState(dir), emptyState());
    // A file of a newer agent is not guessed at.
    await writeFile(join(dir, STATE_FILE), '{"version":2}');
    await assert.rejects(loadUploadState(dir), /unknown version/);
  });
});

describe('parseRetryAfter', () => {
  it('reads whole seconds, capped at 10 minutes', () => {
    assert.equal(parseRetryAfter('10'), 10_000);
    assert.equal(parseRetryAfter(' 3 '), 3000);
    assert.equal(parseRetryAfter('0'), 0);
    assert.equal(parseRetryAfter('600'), 600_000);
    assert.equal(parseRetryAfter('601'), 600_000);
    assert.equal(parseRetryAfter('86400'), 600_000);
  });

  it('ignores what is not a number of seconds', () => {
    for (const value of [
      undefined,
      '',
      'Wed, 21 Oct 2026 07:28:00 GMT',
      '2026-10-21T07:28:00Z',
      '1.5',
      '-5',
      '+5',
      '5s',
      'soon',
      '0x10',
    ])
      assert.equal(parseRetryAfter(value), undefined, JSON.stringify(value));
  });
});
