/**
 * MQTT out against Debian's Mosquitto on a free port, watched by a plain MQTT client as Home
 * Assistant would: the status and its last will, the discovery configs (and the emptying of
 * those no camera accounts for, from an earlier run or a removal), retained states, a motion
 * ON/OFF, an alert message, and a broker gone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { mqttOutTopics, notificationValidators } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { waitFor } from '../../test/support/index.ts';
import { memoryLogger } from '../../test/support/memory-log.ts';
import { MOSQUITTO, type Mosquitto, startMosquitto } from '../../test/support/mosquitto.ts';
import { rootOnlySkip } from '../../test/support/root-only.ts';
import { MqttOut } from '../src/notify/mqtt-out.ts';
import { sample } from './notify-sample.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const t = mqttOutTopics('cctv');
const config = (object: string, component = 'binary_sensor') =>
  `homeassistant/${component}/cctv/${object}/config`;

/** The retained messages under `filter` now, as a new subscriber gets them. */
async function retained(url: string, filter: string): Promise<Map<string, string>> {
  const c = await mqtt.connectAsync(url, { clientId: `probe-${Math.random()}`, reconnectPeriod: 0 });
  const out = new Map<string, string>();
  c.on('message', (topic, payload, packet) => {
    if (packet.retain) out.set(topic, payload.toString());
  });
  await c.subscribeAsync(filter, { qos: 1 });
  await new Promise((r) => setTimeout(r, 300));
  await c.endAsync();
  return out;
}

describe('MQTT out to a home automation broker', {
  skip: rootOnlySkip(existsSync(MOSQUITTO) ? null : `${MOSQUITTO} is missing (Debian package mosquitto)`),
}, () => {
  let broker: Mosquitto;
  let watcher: MqttClient;
  const seen: { topic: string; payload: string; retain: boolean }[] = [];
  const failures: string[] = [];
  let out: MqttOut;

  before(async () => {
    broker = await startMosquitto();
    // Left by an earlier run: a camera since removed, and another site's camera on the same broker.
    const earlier = await mqtt.connectAsync(broker.url, { clientId: 'earlier' });
    await earlier.publishAsync(config('old-cam_motion'), '{"name":"Motion"}', { qos: 1, retain: true });
    await earlier.publishAsync(t.detection('gone-cam', 'motion'), 'ON', { qos: 1, retain: true });
    await earlier.publishAsync('homeassistant/binary_sensor/farm/x_motion/config', '{"name":"Motion"}', {
      qos: 1,
      retain: true,
    });
    await earlier.endAsync();
    watcher = await mqtt.connectAsync(broker.url, { clientId: 'watcher' });
    watcher.on('message', (topic, payload, packet) =>
      seen.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await watcher.subscribeAsync(['cctv/#', 'homeassistant/#'], { qos: 1 });
    out = new MqttOut({
      url: broker.url,
      topicPrefix: 'cctv',
      discoveryPrefix: 'homeassistant',
      homeAssistant: true,
      log,
      onFailure: (what, error) => failures.push(`${what}: ${error}`),
      publishTimeoutMs: 2000,
      reconnectPeriodMs: 200,
    });
  });
  after(async () => {
    await out.stop();
    await watcher?.endAsync();
  });

  const last = (topic: string) => seen.filter((m) => m.topic === topic).at(-1)?.payload;

  it('announces cameras to Home Assistant and empties the configs of cameras it no longer has', async () => {
    // What is given before the connection is published once it is up: states, the cameras, and
    // the removal of one that went meanwhile.
    const yard = { cameraId: 'yard', nodeId: 'node-1', name: 'Yard' };
    out.nodeState('node-1', 'online');
    out.announceCameras([yard, { cameraId: 'gone-cam', nodeId: 'node-1', name: 'Gone' }]);
    out.announceCameras([yard]);
    out.start();
    await waitFor('online and announced', () => last(t.status) === 'online' && last(config('yard_face')));

    const motion = JSON.parse(last(config('yard_motion')) ?? '{}');
    assert.equal(motion.device_class, 'motion');
    assert.equal(motion.state_topic, 'cctv/cameras/yard/motion');
    assert.equal(motion.availability[0].topic, 'cctv/status');
    assert.equal(motion.device.name, 'Yard');
    assert.equal(JSON.parse(last(config('yard_face')) ?? '{}').device_class, 'occupancy');
    const node = JSON.parse(last(config('node_node-1_connectivity')) ?? '{}');
    assert.equal(node.device_class, 'connectivity');

    await waitFor('the old camera emptied', async () => {
      const now = await retained(broker.url, 'homeassistant/#');
      return !now.has(config('old-cam_motion')) && now;
    }).then((now) => {
      assert.ok(now.has('homeassistant/binary_sensor/farm/x_motion/config'), "another site's config stays");
      assert.ok(now.has(config('yard_motion')));
      assert.ok(now.has(config('yard_recording', 'sensor')));
    });
    const states = await retained(broker.url, 'cctv/#');
    assert.equal(states.get(t.status), 'online');
    assert.equal(states.get(t.nodeState('node-1')), 'online');
    assert.equal(states.has(t.detection('gone-cam', 'motion')), false, 'the removed camera emptied');
  });

  it('publishes motion ON then OFF, retained, and camera states', async () => {
    out.detection('yard', 'motion', true);
    await waitFor('motion ON', () => last(t.detection('yard', 'motion')) === 'ON');
    out.detection('yard', 'motion', false);
    out.cameraState('yard', 'recording');
    await waitFor('motion OFF', () => last(t.detection('yard', 'motion')) === 'OFF');
    assert.deepEqual(
      seen.filter((m) => m.topic === t.detection('yard', 'motion')).map((m) => m.payload),
      ['ON', 'OFF'],
    );
    const states = await retained(broker.url, 'cctv/cameras/#');
    assert.equal(states.get(t.detection('yard', 'motion')), 'OFF');
    assert.equal(states.get(t.cameraState('yard')), 'recording');
  });

  it('publishes an alert and an event, not retained', async () => {
    assert.deepEqual(await out.publishAlert(sample), { ok: true });
    const alert = seen.find((m) => m.topic === t.alerts);
    assert.ok(alert, 'the alert arrived before the acknowledgement');
    assert.deepEqual(notificationValidators.alertNotification.parse(alert.payload), {
      ok: true,
      value: sample,
    });
    assert.ok(sample.event);
    out.event(sample.event);
    await waitFor('the event', () => last(t.events));
    assert.deepEqual(JSON.parse(last(t.events) ?? ''), sample.event);
    const kept = await retained(broker.url, 'cctv/#');
    assert.equal(kept.has(t.alerts) || kept.has(t.events), false);
  });

  it('is marked offline by its last will when its connection breaks, and comes back with its states', async () => {
    const mark = seen.length;
    // The link cut from under the client, as a network failure would.
    (out as unknown as { client: MqttClient }).client.stream.destroy();
    await waitFor('will, then back', () => {
      const statuses = seen
        .slice(mark)
        .filter((m) => m.topic === t.status)
        .map((m) => m.payload);
      return statuses.join() === 'offline,online';
    });
    await waitFor('states published again', () =>
      seen.slice(mark).some((m) => m.topic === t.nodeState('node-1') && m.payload === 'online'),
    );
    assert.equal((await retained(broker.url, 'cctv/cameras/#')).get(t.cameraState('yard')), 'recording');
  });

  it('removes a camera: its configs and states emptied', async () => {
    out.announceCameras([]);
    await waitFor('yard removed', async () => {
      const now = await retained(broker.url, '#');
      return ![...now.keys()].some((k) => k.includes('yard')) && now;
    });
    assert.deepEqual(failures, []);
  });

  it('says offline on stop; with discovery off empties old configs; reports an alert it cannot publish', async () => {
    const probe = await mqtt.connectAsync(broker.url, { clientId: 'status-probe' });
    const statuses: string[] = [];
    probe.on('message', (_topic, payload) => statuses.push(payload.toString()));
    await probe.subscribeAsync(t.status, { qos: 1 });
    await out.stop();
    await waitFor('offline', () => statuses.at(-1) === 'offline');
    await probe.endAsync();

    const { logger, lines } = memoryLogger();
    out = new MqttOut({
      url: broker.url,
      username: 'cctv-master',
      password: 'hunter2-broker-secret',
      topicPrefix: 'cctv',
      discoveryPrefix: 'homeassistant',
      homeAssistant: false,
      log: logger,
      onFailure: (what, error) => failures.push(`${what}: ${error}`),
      reconnectPeriodMs: 200,
    });
    // Discovery turned off: the configs of an earlier run with it on go (another site's stay).
    const earlier = await mqtt.connectAsync(broker.url, { clientId: 'earlier-again' });
    await earlier.publishAsync(config('yard_motion'), '{"name":"Motion"}', { qos: 1, retain: true });
    await earlier.endAsync();
    out.start();
    await waitFor('discovery emptied', async () => {
      const now = await retained(broker.url, 'homeassistant/#');
      return [...now.keys()].join() === 'homeassistant/binary_sensor/farm/x_motion/config';
    });
    assert.ok(out.connected);
    await broker.stop();
    await waitFor('disconnected', () => !out.connected);
    const r = await out.publishAlert(sample);
    assert.deepEqual(r, { ok: false, retry: true, error: 'not connected to the broker' });
    assert.deepEqual(failures, ['alert: not connected to the broker']);
    assert.ok(lines.some((l) => l.includes('unreachable')));
    assert.equal(lines.filter((l) => l.includes('hunter2')).length, 0, 'the password is never logged');
  });
});
