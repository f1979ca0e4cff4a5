/**
 * Two master processes on Debian's Mosquitto (MQTT_URL) share event ingest through an MQTT v5
 * shared subscription: each stores part of the events, and together every event exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import { type EventMessage, topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import { registerTestCameras } from '../support/enrol.ts';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
  waitHealthy,
} from '../support/index.ts';
import { type Mosquitto, startMosquitto } from '../support/mosquitto.ts';

const EVENTS = 2000;
const h = {} as { dbUrl: string; broker: Mosquitto; masters: { svc: ServiceProcess; url: string }[] };

async function ingested(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('cctv_events_ingested_total'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('masters on an external broker', () => {
  before(async () => {
    h.dbUrl = (await startTestDatabase()).url;
    h.broker = await startMosquitto();
    h.masters = [];
    for (const n of [1, 2]) {
      const port = await freePort();
      const svc = startService('master/src/main.ts', {
        DATABASE_URL: h.dbUrl,
        MASTER_DATA_DIR: await tempDir(),
        MASTER_HTTP_HOST: '127.0.0.1',
        MASTER_HTTP_PORT: String(port),
        MQTT_URL: h.broker.url,
        MASTER_INSTANCE_ID: `master-test-${n}`,
      });
      onCleanup(() => svc.kill());
      const url = `https://127.0.0.1:${port}`;
      await waitHealthy(svc, `${url}/healthz`);
      h.masters.push({ svc, url });
    }
    // The node's camera, as its hello registers it: events are stored only from a camera's owner.
    await registerTestCameras(h.dbUrl, 'ext-node', ['ext-cam']);
  });

  it('splits events between the masters, and stores each exactly once', async () => {
    const client = await mqtt.connectAsync(h.broker.url, { clientId: 'agent-ext-node', protocolVersion: 5 });
    onCleanup(() => client.endAsync(true));
    const ids: string[] = [];
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < EVENTS; i++) {
      const id = randomUUID();
      ids.push(id);
      const at = new Date(t0 + i).toISOString();
      const message: EventMessage = {
        id,
        seq: 0,
        type: i % 2 ? 'face' : 'motion',
        phase: 'start',
        cameraId: 'ext-cam',
        startedAt: at,
        at,
        boxes: [],
        score: 0.5,
        bestAt: at,
        frames: 1,
      };
      client.publish(topics.events('ext-node'), JSON.stringify(message), { qos: 1 });
    }
    const db = createPrismaClient(h.dbUrl, 2);
    onCleanup(() => db.$disconnect());
    await waitFor('every event stored', async () => (await db.event.count()) >= EVENTS, 60_000, 250).catch(
      async (err) => {
        throw new Error(`${err.message}: ${await db.event.count()} stored`);
      },
    );
    const stored = await db.event.findMany({ select: { id: true } });
    assert.equal(stored.length, EVENTS);
    assert.deepEqual(new Set(stored.map((r) => r.id)), new Set(ids));
    const counts = await Promise.all(h.masters.map((m) => ingested(m.url)));
    console.log(`events ingested per master: ${counts.join(' + ')}`);
    assert.ok(
      counts.every((c) => c > 0),
      `each master ingested a part: ${counts.join(' + ')}`,
    );
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      EVENTS,
      `no event was ingested twice: ${counts.join(' + ')}`,
    );
  });
});
