/**
 * The master's clock answers on the embedded broker, through a real MQTT client: a request is
 * answered at once on the node's `cmd/time` with the master's receive and send times, and a
 * malformed one is counted, logged and dropped. The agent's side is node-agent/test/clock.test.ts;
 * both together, with a real agent 90 s ahead, in test/e2e/clock-skew.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TimeAnswer, topics, validators } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { attachTimeResponder } from '../src/clock/time-responder.ts';
import { createMetrics } from '../src/metrics.ts';
import { EmbeddedBroker } from '../src/mqtt/broker.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const MASTER_AHEAD_MS = 5000;

describe('time responder', () => {
  const metrics = createMetrics();
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, log });
  let client: MqttClient;
  const answers: { topic: string; payload: string }[] = [];

  before(async () => {
    await broker.start();
    await attachTimeResponder({ bus: broker, metrics, log, now: () => Date.now() + MASTER_AHEAD_MS });
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: 'agent-n1',
      reconnectPeriod: 0,
    });
    await client.subscribeAsync(topics.cmdFilter('n1'), { qos: 1 });
    client.on('message', (topic, payload) => answers.push({ topic, payload: payload.toString() }));
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
    const deadline = Date.now() + 5000;
    while (answers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const t3 = Date.now();
    const answer = answers.shift();
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
    while (answers.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      answers.map((a) => (JSON.parse(a.payload) as TimeAnswer).id),
      ['r-3'],
    );
  });
});
