/**
 * Webhook deliveries to a real HTTP receiver on a free port, which verifies them with the very
 * code docs/operations.md gives receivers (taken from the document), and answers as told:
 * delivered, tried again (503 with Retry-After, no answer in time, nobody listening) or final
 * (400, a redirect, which is not followed).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { notificationValidators } from '@cctv/protocol';
import { freePort, repoRoot, tempDir } from '../../test/support/index.ts';
import { sendWebhook } from '../src/notify/webhook.ts';
import { sample } from './notify-sample.ts';

type Verify = (secret: string, headers: IncomingHttpHeaders, rawBody: Buffer, toleranceS?: number) => boolean;

/** The receiver's verification as the operations guide prints it, loaded as a module. */
async function documentedVerifier(): Promise<Verify> {
  const doc = await readFile(join(repoRoot, 'docs/operations.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Notifications'));
  const code = /```js\n([\s\S]*?verifyCctvWebhook[\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'docs/operations.md shows receivers a verifyCctvWebhook snippet');
  assert.ok(code.trim().split('\n').length <= 12, 'the snippet stays short');
  const file = join(await tempDir('cctv-webhook-verify-'), 'verify.mjs');
  await writeFile(file, code);
  return ((await import(file)) as { verifyCctvWebhook: Verify }).verifyCctvWebhook;
}

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const SECRET = 'whsec-0123456789abcdef0123456789';

describe('webhook sender against a real receiver', () => {
  let verify: Verify;
  let port: number;
  const received: Received[] = [];
  let answer: (res: ServerResponse) => void = (res) => res.writeHead(204).end();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      answer(res);
    });
  });

  before(async () => {
    verify = await documentedVerifier();
    port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = () => `http://127.0.0.1:${port}/hooks/cctv?site=farm`;
  const send = (timeoutMs = 5000) =>
    sendWebhook({ url: url(), secret: SECRET, headers: { Authorization: 'Bearer proxy-token' } }, sample, {
      timeoutMs,
    });

  it('delivers a signed notification the documented check accepts, and only that one', async () => {
    received.length = 0;
    answer = (res) => res.writeHead(204).end();
    assert.deepEqual(await send(), { ok: true });
    assert.equal(received.length, 1);
    const r = received[0];
    assert.ok(r);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-cctv-event'], 'alert.raised');
    assert.equal(r.headers['x-cctv-delivery'], sample.id);
    assert.equal(r.headers.authorization, 'Bearer proxy-token', "the channel's own header");
    assert.deepEqual(notificationValidators.alertNotification.parse(r.body), { ok: true, value: sample });

    assert.equal(verify(SECRET, r.headers, r.body), true);
    assert.equal(verify('another-secret-0123456789', r.headers, r.body), false, 'another secret');
    const tampered = Buffer.from(r.body.toString().replace('Motion in the yard', 'All clear'));
    assert.equal(verify(SECRET, r.headers, tampered), false, 'a changed body');
    const reparsed = Buffer.from(JSON.stringify(JSON.parse(r.body.toString()), null, 1));
    assert.equal(verify(SECRET, r.headers, reparsed), false, 'the raw bytes are signed, not the JSON');
    const old = { ...r.headers, 'x-cctv-timestamp': String(Math.floor(Date.now() / 1000) - 301) };
    assert.equal(verify(SECRET, old, r.body), false, 'outside the replay window');
    const moved = { ...r.headers, 'x-cctv-timestamp': String(Number(r.headers['x-cctv-timestamp']) + 1) };
    assert.equal(verify(SECRET, moved, r.body), false, 'the timestamp is signed');
    assert.equal(verify(SECRET, { ...r.headers, 'x-cctv-signature': undefined }, r.body), false);
  });

  it('tries again after 503, at the time Retry-After asks', async () => {
    answer = (res) => res.writeHead(503, { 'retry-after': '7' }).end('busy\r\nupstream down');
    const r = await send();
    assert.deepEqual(r, {
      ok: false,
      retry: true,
      error: `127.0.0.1:${port} answered HTTP 503: busy upstream down`,
      retryAfterMs: 7000,
    });
    answer = (res) => res.writeHead(429).end();
    const busy = await send();
    assert.equal(!busy.ok && busy.retry, true, '429 too');
  });

  it('gives up on 400 and on a redirect, which it does not follow', async () => {
    answer = (res) => res.writeHead(400).end('unknown hook');
    const r = await send();
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.retry, false);
    assert.equal(!r.ok && r.error, `127.0.0.1:${port} answered HTTP 400: unknown hook`);

    received.length = 0;
    answer = (res) => res.writeHead(301, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
    const moved = await send();
    assert.equal(!moved.ok && moved.retry, false);
    assert.match(!moved.ok ? moved.error : '', /HTTP 301 .*redirects are not followed/);
    assert.equal(received.length, 1, 'the redirect was not followed');
  });

  it('tries again when the receiver does not answer in time or nobody listens', async () => {
    answer = () => {}; // never answers
    const started = Date.now();
    const r = await send(300);
    assert.deepEqual(r, { ok: false, retry: true, error: `127.0.0.1:${port}: no answer within 300 ms` });
    assert.ok(Date.now() - started < 3000);

    const closed = await freePort();
    const refused = await sendWebhook({ url: `http://127.0.0.1:${closed}/`, secret: SECRET }, sample, {
      timeoutMs: 2000,
    });
    assert.deepEqual(refused, { ok: false, retry: true, error: `127.0.0.1:${closed}: ECONNREFUSED` });
  });
});
