import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { freePort, onCleanup, tempDir, waitFor } from '../../test/support/index.ts';
import { startAedes } from '../../test/support/plain.ts';
import { Outbox, type OutboxClient, type OutboxOptions } from '../src/outbox/outbox.ts';
import { startBroker } from './broker.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const topic = (i: number) => `cctv/v1/nodes/outbox-test/events/${i}`;

/** An aedes broker on a given port, so that a "new broker" can come back where the old one was. */
async function brokerOn(port: number): Promise<{ broker: Aedes; close(): Promise<void> }> {
  const server = await startAedes(port);
  onCleanup(server.close);
  return server;
}

/** A client that records every payload published under the test prefix, in arrival order. */
async function watch(url: string, id: string): Promise<{ client: MqttClient; seen: string[] }> {
  const client = await mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 100 });
  onCleanup(() => client.endAsync(true));
  const seen: string[] = [];
  client.on('message', (_t, payload) => seen.push(payload.toString()));
  await client.subscribeAsync('cctv/v1/nodes/outbox-test/#', { qos: 1 });
  return { client, seen };
}

async function agentClient(url: string, id: string): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId: id,
    clean: false,
    reconnectPeriod: 100,
    connectTimeout: 2000,
  });
  client.on('error', () => {});
  onCleanup(() => client.endAsync(true));
  await waitFor(`${id} connected`, () => client.connected);
  return client;
}

function outbox(opts: Pick<OutboxOptions, 'dir' | 'client'> & Partial<OutboxOptions>): Outbox {
  const box = new Outbox({ logger, stopTimeoutMs: 200, retryDelayMs: 20, ...opts });
  onCleanup(() => box.stop());
  return box;
}

const entryFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();

describe('Outbox against a real aedes broker', () => {
  it('keeps what is appended while the broker is down and delivers it in order to a new broker', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const first = await brokerOn(port);
    const dir = await tempDir('outbox-down-');
    const client = await agentClient(url, 'agent-outbox-1');
    const box = outbox({ dir, client });
    await box.start();

    await box.append({ topic: topic(0), payload: 'm0' });
    await waitFor('m0 sent', () => box.sent === 1);

    await first.close();
    await waitFor('client sees the broker gone', () => !client.connected);
    const n = 20;
    for (let i = 1; i <= n; i++) await box.append({ topic: topic(i), payload: `m${i}` });
    // On disk before append() resolved, and nothing went anywhere.
    assert.equal((await entryFiles(dir)).length, n);
    assert.equal(box.size().entries, n);
    assert.ok(box.size().bytes > 0);
    assert.ok(box.size().oldestAt instanceof Date);

    // Hold the agent back until the watcher listens, or the first messages reach nobody.
    const second = await brokerOn(port);
    second.broker.preConnect = (_c, packet, done) =>
      packet.clientId === 'agent-outbox-1' ? done(new Error('not yet'), false) : done(null, true);
    const { seen } = await watch(url, 'watcher-1');
    second.broker.preConnect = (_c, _p, done) => done(null, true);
    await waitFor('backlog drained', () => box.size().entries === 0, 10_000, 20);
    // The broker acknowledges the publisher before it forwards to subscribers: the watcher may
    // get the last message a moment after the outbox has emptied.
    await waitFor('the watcher got all', () => seen.length >= n, 5000, 20);
    assert.deepEqual(
      seen,
      Array.from({ length: n }, (_, i) => `m${i + 1}`),
    );
    assert.deepEqual(await entryFiles(dir), []);
    await box.stop();
  });

  it('replays what a stopped instance left, in order, before new messages, and nothing twice', async () => {
    const broker = await startBroker();
    const dir = await tempDir('outbox-restart-');
    const { seen } = await watch(broker.url, 'watcher-2');

    // First run: queued while disconnected (never started sending), then "the agent stops".
    const offline = mqtt.connect(broker.url, { clientId: 'agent-outbox-2', manualConnect: true });
    const before = outbox({ dir, client: offline });
    await before.start();
    for (let i = 0; i < 5; i++) await before.append({ topic: topic(i), payload: `r${i}` });
    await before.stop();

    // Second run on the same folder: two are acked, the third is never acked (the broker
    // went quiet), and stop() abandons it, leaving its file.
    const client = await agentClient(broker.url, 'agent-outbox-2b');
    let calls = 0;
    const stalling: OutboxClient = {
      get connected() {
        return client.connected;
      },
      publishAsync: (t, p, o) => (++calls <= 2 ? client.publishAsync(t, p, o) : new Promise(() => {})),
      on: (e, l) => client.on(e, l),
      removeListener: (e, l) => client.removeListener(e, l),
    };
    const second = outbox({ dir, client: stalling });
    await second.append({ topic: topic(5), payload: 'r5' });
    assert.equal(second.size().entries, 6);
    await second.start();
    await waitFor('third publish in flight', () => calls === 3, 10_000, 5);
    await second.stop();
    assert.equal(second.sent, 2);
    assert.equal((await entryFiles(dir)).length, 4);

    // Third run: replays the rest once, then a new message comes after them.
    const third = outbox({ dir, client });
    await third.start();
    await third.append({ topic: topic(6), payload: 'r6' });
    await waitFor('all sent', () => seen.length >= 7 && third.size().entries === 0, 10_000, 20);
    assert.deepEqual(seen, ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    assert.deepEqual(await entryFiles(dir), []);
    await third.stop();
  });

  it('at the cap drops the oldest entries, counts them, and keeps the newest', async () => {
    const broker = await startBroker();
    const dir = await tempDir('outbox-cap-');
    const offline = mqtt.connect(broker.url, { clientId: 'agent-outbox-3', manualConnect: true });
    const box = outbox({ dir, client: offline, maxMessages: 3 });
    await box.start();
    for (let i = 0; i < 5; i++) await box.append({ topic: topic(i), payload: `c${i}` });
    assert.equal(box.dropped, 2);
    assert.equal(box.size().entries, 3);
    assert.equal((await entryFiles(dir)).length, 3);
    await box.stop();

    // A byte cap: each entry is about the same size, so room for two.
    const oneBytes = box.size().bytes / 3;
    const small = outbox({ dir, client: offline, maxBytes: Math.floor(oneBytes * 2.5) });
    await small.append({ topic: topic(9), payload: 'c9' });
    assert.ok(small.dropped >= 2, `dropped ${small.dropped}`);
    assert.ok(small.size().bytes <= oneBytes * 2.5);

    const { seen } = await watch(broker.url, 'watcher-3');
    const client = await agentClient(broker.url, 'agent-outbox-3b');
    const sender = outbox({ dir, client });
    await sender.start();
    await waitFor('rest sent', () => sender.size().entries === 0 && seen.length >= 2, 10_000, 20);
    assert.deepEqual(seen, ['c4', 'c9']);
  });

  it('moves a corrupt file aside, counts it, and goes on with the next', async () => {
    const broker = await startBroker();
    const dir = await tempDir('outbox-bad-');
    await mkdir(dir, { recursive: true });
    const good = (p: string) =>
      `${JSON.stringify({ v: 1, at: new Date().toISOString(), topic: topic(1), payload: p })}\n`;
    await writeFile(join(dir, '0000000000000001.json'), good('b1'));
    await writeFile(join(dir, '0000000000000002.json'), '{"v":1,"topic":');
    await writeFile(
      join(dir, '0000000000000003.json'),
      JSON.stringify({ v: 1, topic: topic(3), payload: 42 }),
    );
    await writeFile(join(dir, '0000000000000004.json'), good('b4'));
    await writeFile(join(dir, '0000000000000005.json.tmp'), 'half written');

    const { seen } = await watch(broker.url, 'watcher-4');
    const client = await agentClient(broker.url, 'agent-outbox-4');
    const box = outbox({ dir, client });
    await box.start();
    await waitFor('good ones sent', () => box.size().entries === 0 && seen.length >= 2, 10_000, 20);
    assert.deepEqual(seen, ['b1', 'b4']);
    assert.equal(box.bad, 2);
    assert.deepEqual(await readdir(dir), ['bad']);
    const aside = await readdir(join(dir, 'bad'));
    assert.equal(aside.length, 2);
    assert.ok(aside.some((n) => n.endsWith('0000000000000002.json')));

    // New appends continue after the highest sequence seen.
    await box.append({ topic: topic(5), payload: 'b5' });
    await waitFor('b5 sent', () => seen.includes('b5'), 10_000, 20);
  });

  it('sets aside a message the client keeps refusing while connected, and goes on', async () => {
    const broker = await startBroker();
    const dir = await tempDir('outbox-refused-');
    const { seen } = await watch(broker.url, 'watcher-5');
    const client = await agentClient(broker.url, 'agent-outbox-5');
    const refusing: OutboxClient = {
      get connected() {
        return client.connected;
      },
      publishAsync: (t, p, o) =>
        p === 'poison' ? Promise.reject(new Error('not authorized')) : client.publishAsync(t, p, o),
      on: (e, l) => client.on(e, l),
      removeListener: (e, l) => client.removeListener(e, l),
    };
    const box = outbox({ dir, client: refusing, maxAttempts: 3 });
    await box.start();
    for (const p of ['ok1', 'poison', 'ok2']) await box.append({ topic: topic(1), payload: p });
    await waitFor('drained', () => box.size().entries === 0 && seen.length >= 2, 10_000, 20);
    assert.deepEqual(seen, ['ok1', 'ok2']);
    assert.equal(box.bad, 1);
    assert.equal((await readdir(join(dir, 'bad'))).length, 1);
  });
});
