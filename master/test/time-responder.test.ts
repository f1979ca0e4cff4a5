/**
 * The master's clock answers on the embedded broker, through a real MQTT client: a request is
 * answered at once on the node's `cmd/time` with the master's receive and send times, and a
 * malformed one is counted, logged and dropped. Then through Debian's Mosquitto with the topic
 * rules deploy/compose ships (the master as an external-broker client): a node's request is
 * answered, one on another node's topic never reaches the master. The agent's side is
 * node-agent/test/clock.test.ts; both, with a real agent 90 s ahead, test/e2e/clock-skew.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TimeAnswer, topics, validators } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { tempDir } from '../../test/support/index.ts';
import { startMosquitto } from '../../test/support/mosquitto.ts';
import { attachTimeResponder } from '../src/clock/time-responder.ts';
import { createMetrics } from '../src/metrics.ts';
import { EmbeddedBroker } from '../src/mqtt/broker.ts';
import { ExternalBus } from '../src/mqtt/external-bus.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const MASTER_AHEAD_MS = 5000;
const ACL_FILE = new URL('../../deploy/compose/mosquitto/acl', import.meta.url).pathname;

/** Collects what `client` receives; `next()` waits for the first not taken yet, or null. */
function inbox(client: MqttClient) {
  const got: { topic: string; payload: string }[] = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
  return {
    got,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return got.shift() ?? null;
    },
  };
}

describe('time responder', () => {
  const metrics = createMetrics();
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, log });
  let client: MqttClient;
  let answers: ReturnType<typeof inbox>;

  before(async () => {
    await broker.start();
    await attachTimeResponder({ bus: broker, metrics, log, now: () => Date.now() + MASTER_AHEAD_MS });
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: 'agent-n1',
      reconnectPeriod: 0,
    });
    await client.subscribeAsync(topics.cmdFilter('n1'), { qos: 1 });
    answers = inbox(client);
  });
  after(async () => {
    await client?.endAsync(true);
    await broker.stop();
  });

  const counted = async (name: 'mqttMessages' | 'mqttRejected', labels: Record<string, string>) =>
    (await metrics[name].get()).values.find((v) =>
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    )?.value ?? 0;

  it('answers a request on the node command channel with its own clock', async () => {
    const t0 = Date.now();
    await client.publishAsync(topics.time('n1'), JSON.stringify({ id: 'r-1', t0 }), { qos: 0 });
    const answer = await answers.next();
    const t3 = Date.now();
    assert.ok(answer, 'no answer');
    assert.equal(answer.topic, topics.timeAnswer('n1'));
    const parsed = validators.timeAnswer.parse(answer.payload);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    const a: TimeAnswer = parsed.value;
    assert.equal(a.id, 'r-1');
    assert.equal(a.t0, t0);
    assert.ok(a.t1 <= a.t2 && a.t2 - a.t1 < 100, `master held it ${a.t2 - a.t1} ms`);
    // The master's clock is MASTER_AHEAD_MS ahead: its times fall in [t0, t3] moved by that.
    assert.ok(a.t1 >= t0 + MASTER_AHEAD_MS && a.t2 <= t3 + MASTER_AHEAD_MS);
    assert.equal(await counted('mqttMessages', { kind: 'time' }), 1);
  });

  it('counts and drops a malformed request, answering nothing', async () => {
    await client.publishAsync(topics.time('n1'), JSON.stringify({ id: 'r-2', t0: 'now' }), { qos: 0 });
    await client.publishAsync(topics.time('n1'), '{nope', { qos: 0 });
    const deadline = Date.now() + 5000;
    while ((await counted('mqttRejected', { kind: 'time', reason: 'invalid_payload' })) < 2) {
      assert.ok(Date.now() < deadline, 'the bad requests were not counted');
      await new Promise((r) => setTimeout(r, 10));
    }
    // A good request after them is answered, and it is the only answer.
    await client.publishAsync(topics.time('n1'), JSON.stringify({ id: 'r-3', t0: Date.now() }), { qos: 0 });
    const answer = await answers.next();
    assert.equal(answer && (JSON.parse(answer.payload) as TimeAnswer).id, 'r-3');
    assert.equal(answers.got.length, 0);
  });
});

describe('time responder on Mosquitto with the shipped topic rules', () => {
  const password = 'clock-test-password-0123456789';
  const clients: MqttClient[] = [];
  let bus: ExternalBus;
  let url = '';
  const metrics = createMetrics();

  before(async () => {
    const dir = await tempDir('cctv-clock-mosquitto-');
    const passwordFile = join(dir, 'passwd');
    await writeFile(passwordFile, '');
    for (const user of ['cctv-master', 'n1', 'n2'])
      await new Promise<void>((resolve, reject) =>
        execFile('mosquitto_passwd', ['-b', passwordFile, user, password], (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    url = (await startMosquitto({ passwordFile, aclFile: ACL_FILE })).url;
    bus = new ExternalBus({
      url,
      clientId: 'master-clock-test',
      username: 'cctv-master',
      password,
      shareGroup: 'masters',
      log,
    });
    await bus.start();
    await attachTimeResponder({ bus, metrics, log });
  });
  after(async () => {
    for (const c of clients) await c.endAsync(true);
    await bus?.stop();
  });

  const node = async (nodeId: string) => {
    const c = await mqtt.connectAsync(url, {
      clientId: `agent-${nodeId}`,
      username: nodeId,
      password,
      reconnectPeriod: 0,
    });
    clients.push(c);
    await c.subscribeAsync(topics.cmdFilter(nodeId), { qos: 1 });
    return c;
  };

  it("answers a node's request on its cmd/time; another node's topic is refused by the broker", async () => {
    const n1 = await node('n1');
    const n2 = await node('n2');
    const n1Inbox = inbox(n1);
    const n2Inbox = inbox(n2);
    // Published as n1 on n2's topic: Mosquitto drops it, the master never sees it.
    await n1.publishAsync(topics.time('n2'), JSON.stringify({ id: 'forged', t0: Date.now() }), { qos: 0 });
    await n1.publishAsync(topics.time('n1'), JSON.stringify({ id: 'own', t0: Date.now() }), { qos: 0 });
    const answer = await n1Inbox.next();
    assert.ok(answer, 'no answer through Mosquitto');
    assert.equal(answer.topic, topics.timeAnswer('n1'));
    assert.equal((JSON.parse(answer.payload) as TimeAnswer).id, 'own');
    // Requests are handled in order: had the forged one passed, its answer would be here by now.
    assert.equal(await n2Inbox.next(300), null);
    assert.equal(n1Inbox.got.length, 0);
    const accepted = (await metrics.mqttMessages.get()).values.find((v) => v.labels.kind === 'time');
    assert.equal(accepted?.value, 1);
  });
});
