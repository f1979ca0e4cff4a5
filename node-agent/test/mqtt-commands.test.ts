import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CommandReply,
  type CommandRequest,
  type HeartbeatMessage,
  type HelloMessage,
  parseNodeTopic,
  topics,
  validators,
} from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import { onCleanup, tempDir, waitFor } from '../../test/support/index.ts';
import { type CommandRejection, MqttLink } from '../src/link/mqtt-link.ts';
import { startBroker } from './broker.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const nodeId = 'cmd-test-1';

const heartbeat = async (): Promise<HeartbeatMessage> => ({
  seq: 0,
  at: new Date().toISOString(),
  uptimeS: 1,
  cpu: { percent: 0, load1: 0 },
  mem: { rssBytes: 1, totalBytes: 1, freeBytes: 1 },
  tempC: null,
  disk: { spoolFreeBytes: 1, spoolUsedBytes: 0 },
  cameras: [],
});

describe('commands over MQTT against a real aedes broker', () => {
  it('answers ping, refuses malformed and unknown commands, maps handler errors, replies after a reconnect', async () => {
    const broker = await startBroker();
    const outboxDir = await tempDir('agent-outbox-');

    // The master's side: sends commands, collects replies.
    const master = await mqtt.connectAsync(broker.url, { clientId: 'master-test', reconnectPeriod: 100 });
    onCleanup(() => master.endAsync(true));
    const replies: { topic: string; reply: CommandReply }[] = [];
    const invalidReplies: string[] = [];
    master.on('message', (topic, payload) => {
      if (parseNodeTopic(topic)?.kind !== 'reply') return;
      const parsed = validators.commandReply.parse(payload);
      if (parsed.ok) replies.push({ topic, reply: parsed.value });
      else invalidReplies.push(parsed.error);
    });
    await master.subscribeAsync(topics.all.reply, { qos: 1 });
    const send = (name: string, body: unknown) =>
      master.publishAsync(topics.cmd(nodeId, name), typeof body === 'string' ? body : JSON.stringify(body), {
        qos: 1,
      });
    const replyTo = (reqId: string) =>
      waitFor(`reply to ${reqId}`, () => replies.find((r) => r.reply.reqId === reqId), 10_000, 20);

    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowStarted = false;
    const rejected: CommandRejection[] = [];
    const seenArgs: CommandRequest[] = [];
    const link = new MqttLink({
      url: broker.url,
      nodeId,
      agentVersion: '9.9.9',
      heartbeatIntervalS: 60,
      logger,
      hello: () => {
        throw new Error('no hello in this test');
      },
      heartbeat,
      outboxDir,
      outbox: { stopTimeoutMs: 200, retryDelayMs: 20 },
      clientOptions: { reconnectPeriod: 100 },
      onRejected: (reason) => rejected.push(reason),
      commands: {
        echo: async (args, req) => {
          seenArgs.push(req);
          return { echoed: args };
        },
        nothing: async () => {},
        coded: async () => {
          throw Object.assign(new Error('camera gate-2 is unknown'), { code: 'UNKNOWN_CAMERA' });
        },
        plain: () => {
          throw new Error('disk on fire');
        },
        notObject: async () => [1, 2, 3],
        slow: async () => {
          slowStarted = true;
          await gate;
          return { done: true };
        },
      },
    });
    onCleanup(() => link.stop());
    link.start();
    await waitFor('link subscribed to its commands', async () => {
      await send('ping', { reqId: 'p-0' });
      return replies.some((r) => r.reply.reqId === 'p-0');
    });

    // ping: the built-in, on reply/{reqId}.
    const ping = await replyTo('p-0');
    assert.equal(ping.topic, topics.reply(nodeId, 'p-0'));
    assert.equal(ping.reply.command, 'ping');
    assert.equal(ping.reply.ok, true);
    const pong = validators.pingResult.validate(ping.reply.result);
    assert.ok(pong.ok, pong.ok ? '' : pong.error);
    assert.equal(pong.value.agentVersion, '9.9.9');

    // A handler gets the validated envelope; its result is the reply's result.
    await send('echo', { reqId: 'e-1', sentAt: new Date().toISOString(), timeoutMs: 5000, args: { a: 1 } });
    assert.deepEqual((await replyTo('e-1')).reply.result, { echoed: { a: 1 } });
    assert.equal(seenArgs[0]?.timeoutMs, 5000);
    // Queued long ago (past its timeout and the grace): refused, not run.
    const old = new Date(Date.now() - 120_000).toISOString();
    await send('echo', { reqId: 'x-1', sentAt: old, timeoutMs: 5000, args: { late: true } });
    const expired = await replyTo('x-1');
    assert.deepEqual([expired.reply.ok, expired.reply.error?.code], [false, 'EXPIRED']);
    assert.ok(!seenArgs.some((r) => r.args && 'late' in r.args), 'the handler never ran');
    await send('nothing', { reqId: 'n-1' });
    const nothing = await replyTo('n-1');
    assert.equal(nothing.reply.ok, true);
    assert.equal(nothing.reply.result, undefined);
    await send('echo', { reqId: 'e-0' });
    assert.deepEqual((await replyTo('e-0')).reply.result, { echoed: {} }, 'absent args arrive as {}');

    // Malformed: answered when the request id is usable, counted either way.
    await send('ping', '{not json');
    await send('ping', { reqId: 'b-1', args: 'not an object' });
    await send('ping', { reqId: 'b-2', surprise: true });
    const bad = await replyTo('b-1');
    assert.equal(bad.reply.ok, false);
    assert.equal(bad.reply.error?.code, 'BAD_REQUEST');
    assert.match(bad.reply.error?.message ?? '', /args/);
    assert.equal((await replyTo('b-2')).reply.error?.code, 'BAD_REQUEST');

    // Unknown, including names that exist on every object.
    await send('self-destruct', { reqId: 'u-1' });
    await send('constructor', { reqId: 'u-2' });
    const unknown = await replyTo('u-1');
    assert.equal(unknown.reply.ok, false);
    assert.equal(unknown.reply.command, 'self-destruct');
    assert.equal(unknown.reply.error?.code, 'UNKNOWN_COMMAND');
    assert.equal((await replyTo('u-2')).reply.error?.code, 'UNKNOWN_COMMAND');
    await waitFor('rejections counted', () => rejected.length === 6);
    assert.deepEqual(rejected.toSorted(), [
      'BAD_REQUEST',
      'BAD_REQUEST',
      'BAD_REQUEST',
      'EXPIRED',
      'UNKNOWN_COMMAND',
      'UNKNOWN_COMMAND',
    ]);

    // Handler errors: the error's code, else FAILED; a result that is not an object is FAILED.
    await send('coded', { reqId: 'f-1' });
    await send('plain', { reqId: 'f-2' });
    await send('notObject', { reqId: 'f-3' });
    assert.deepEqual((await replyTo('f-1')).reply.error, {
      code: 'UNKNOWN_CAMERA',
      message: 'camera gate-2 is unknown',
    });
    assert.equal((await replyTo('f-2')).reply.error?.code, 'FAILED');
    assert.equal((await replyTo('f-3')).reply.error?.code, 'FAILED');

    // A redelivered request id is handled once.
    await send('echo', { reqId: 'e-1', args: { a: 2 } });
    await send('ping', { reqId: 'p-1' });
    await replyTo('p-1');
    assert.equal(replies.filter((r) => r.reply.reqId === 'e-1').length, 1);

    // The link still works after all that.
    await send('ping', { reqId: 'p-2' });
    assert.equal((await replyTo('p-2')).reply.ok, true);

    // A reply produced while the broker is away is kept on disk and delivered after reconnect.
    await send('slow', { reqId: 's-1' });
    await waitFor('slow handler running', () => slowStarted);
    const agentId = `agent-${nodeId}`;
    broker.broker.preConnect = (_c, packet, done) =>
      packet.clientId === agentId ? done(new Error('broker away'), false) : done(null, true);
    broker.client(agentId)?.conn.destroy();
    await waitFor('link down', () => !link.connected);
    release();
    await waitFor('reply waiting in the outbox', () => (link.outbox?.size().entries ?? 0) > 0);
    assert.equal(link.connected, false);
    assert.equal(replies.filter((r) => r.reply.reqId === 's-1').length, 0);
    broker.broker.preConnect = (_c, _p, done) => done(null, true);
    const slow = await replyTo('s-1');
    assert.deepEqual(slow.reply.result, { done: true });
    await waitFor('outbox drained', () => link.outbox?.size().entries === 0);

    // Queued publishes go through the same outbox; foreign topics are refused.
    await assert.rejects(link.publishQueued(topics.events('someone-else'), '{}'), { code: 'FOREIGN_TOPIC' });
    const events: string[] = [];
    master.on('message', (topic, payload) => {
      if (topic === topics.events(nodeId)) events.push(payload.toString());
    });
    await master.subscribeAsync(topics.events(nodeId), { qos: 1 });
    await link.publishQueued(topics.events(nodeId), '{"n":1}');
    await waitFor('queued event delivered', () => events.length === 1);
    assert.equal(link.outbox?.dropped, 0);
    assert.equal(link.outbox?.bad, 0);
    assert.deepEqual(invalidReplies, []);

    await link.stop();
  });

  it('republishes hello on demand, folding a burst of calls into few publishes', async () => {
    const broker = await startBroker();
    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'hello-watcher', reconnectPeriod: 0 });
    onCleanup(() => watcher.endAsync(true));
    const hellos: HelloMessage[] = [];
    watcher.on('message', (_t, payload) => {
      const parsed = validators.hello.parse(payload);
      if (parsed.ok) hellos.push(parsed.value);
    });
    await watcher.subscribeAsync(topics.hello('hello-test-1'), { qos: 1 });
    let cameras = 0;
    const link = new MqttLink({
      url: broker.url,
      nodeId: 'hello-test-1',
      agentVersion: '9.9.9',
      heartbeatIntervalS: 60,
      logger,
      heartbeat,
      hello: () => ({
        protocolVersion: 1,
        nodeId: 'hello-test-1',
        agentVersion: '9.9.9',
        at: new Date().toISOString(),
        host: { hostname: 'h', platform: 'linux', arch: 'x64', cpus: 1, memTotalBytes: 1 },
        capabilities: { ffmpegVersion: 'test', hwEncoders: [] },
        cameras: Array.from({ length: cameras }, (_, i) => ({
          id: `cam-${i}`,
          name: `Camera ${i}`,
          codec: 'hevc',
          width: 320,
          height: 180,
          fps: 10,
          simulated: true,
          recording: { mode: 'copy' as const, encoder: 'copy', reason: 'test' },
        })),
      }),
    });
    onCleanup(() => link.stop());
    await link.start();
    await waitFor('hello on connect', () => hellos.length === 1);
    cameras = 3;
    for (let i = 0; i < 10; i++) link.republishHello();
    await waitFor('hello with three cameras', () => hellos.at(-1)?.cameras.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(hellos.length <= 3, `${hellos.length} hellos for one burst`);
    await link.stop();
  });
});
