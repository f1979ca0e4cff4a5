import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type StatusMessage, topics, validators } from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import { tempDir, waitFor } from '../../test/support/index.ts';
import { ffmpegInfo } from '../src/host/ffmpeg-info.ts';
import { heartbeatBuilder } from '../src/link/heartbeat.ts';
import { buildHello } from '../src/link/hello.ts';
import { MqttLink } from '../src/link/mqtt-link.ts';
import { startBroker } from './broker.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const nodeId = 'link-test-1';

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

describe('MQTT link against a real aedes broker', () => {
  it('announces online + hello, sends heartbeats, leaves an offline will, reconnects, says offline on stop', async () => {
    const broker = await startBroker();
    const spoolDir = await tempDir('agent-link-');
    const ffmpeg = await ffmpegInfo();

    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'watcher', reconnectPeriod: 0 });
    after(() => watcher.endAsync(true));
    const seen: Seen[] = [];
    watcher.on('message', (topic, payload, packet) =>
      seen.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
    await watcher.subscribeAsync(topics.nodeTree(nodeId), { qos: 1 });

    const link = new MqttLink({
      url: broker.url,
      nodeId,
      agentVersion: '0.1.0',
      heartbeatIntervalS: 0.2,
      logger,
      hello: () =>
        buildHello({
          nodeId,
          agentVersion: '0.1.0',
          ffmpeg,
          cameras: [
            {
              id: `${nodeId}-sim`,
              name: 'Simulated camera',
              codec: 'rawvideo',
              width: 320,
              height: 180,
              fps: 10,
              simulated: true,
              recording: { mode: 'transcode', encoder: 'libx265', reason: 'test' },
            },
          ],
        }),
      heartbeat: heartbeatBuilder({
        spoolDir,
        cameras: () => [
          {
            id: `${nodeId}-sim`,
            state: 'recording',
            fps: 10,
            bitrateKbps: 120,
            lastSegmentAt: new Date(),
            segmentsRecorded: 3,
            backlog: { files: 1, bytes: 2048 },
          },
        ],
      }),
    });
    after(() => link.stop());
    link.start();

    const statuses = () =>
      seen
        .filter((m) => m.topic === topics.status(nodeId))
        .map((m) => JSON.parse(m.payload) as StatusMessage);
    const of = (topic: string) => seen.filter((m) => m.topic === topic);

    await waitFor('online, hello and two heartbeats', () => of(topics.heartbeat(nodeId)).length >= 2);
    assert.equal(statuses()[0]?.state, 'online');
    assert.ok(validators.status.check(statuses()[0]));
    const hello = of(topics.hello(nodeId));
    assert.equal(hello.length, 1);
    const parsedHello = validators.hello.parse(hello[0]?.payload ?? '');
    assert.ok(parsedHello.ok, parsedHello.ok ? '' : parsedHello.error);
    assert.equal(parsedHello.value.capabilities.ffmpegVersion, ffmpeg.version);
    // Ordering on the wire: status, then hello, then heartbeats.
    assert.deepEqual(
      seen.slice(0, 3).map((m) => m.topic.split('/').at(-1)),
      ['status', 'hello', 'heartbeat'],
    );
    const beats = of(topics.heartbeat(nodeId)).map((m) => validators.heartbeat.parse(m.payload));
    for (const b of beats) assert.ok(b.ok, b.ok ? '' : b.error);
    const first = beats[0];
    assert.ok(first?.ok);
    assert.equal(first.value.cameras[0]?.backlogBytes, 2048);
    assert.ok(first.value.mem.rssBytes > 0);
    assert.ok(first.value.disk.spoolFreeBytes > 0);
    assert.deepEqual(beats.map((b) => (b.ok ? b.value.seq : -1)).slice(0, 2), [0, 1]);

    // Kill the agent's connection without a DISCONNECT: the broker publishes the will.
    const agentSide = broker.client(`agent-${nodeId}`);
    assert.ok(agentSide);
    agentSide.conn.destroy();
    await waitFor('offline will', () => statuses().some((s) => s.state === 'offline'));
    const will = statuses().find((s) => s.state === 'offline');
    assert.ok(validators.status.check(will));

    // …and the link comes back by itself and announces again.
    await waitFor('reconnect', () => link.connectCount >= 2 && of(topics.hello(nodeId)).length >= 2, 5000);
    assert.equal(statuses().at(-1)?.state, 'online');

    await link.stop();
    await waitFor('offline on stop', () => statuses().at(-1)?.state === 'offline');

    // The retained status a newcomer sees is offline.
    const late = await mqtt.connectAsync(broker.url, { clientId: 'late', reconnectPeriod: 0 });
    after(() => late.endAsync(true));
    const retained: StatusMessage[] = [];
    late.on('message', (_t, payload, packet) => {
      if (packet.retain) retained.push(JSON.parse(payload.toString()) as StatusMessage);
    });
    await late.subscribeAsync(topics.status(nodeId), { qos: 1 });
    await waitFor('retained status', () => retained.length > 0);
    assert.equal(retained[0]?.state, 'offline');
  });
});
