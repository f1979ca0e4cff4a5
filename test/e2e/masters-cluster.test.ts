/**
 * Two master processes on one PostgreSQL and Debian's Mosquitto (docs/adr/0024): each node
 * message is applied once, yet the dashboards of both masters see every node change and event;
 * one master leads (judges stale nodes) and the other takes over when it is killed; a sign-out
 * at one master closes the session's sockets at the other; a command's reply reaches the master
 * that sent it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { type EventMessage, topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { startFleet } from '../../bench/fleet-sim.ts';
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
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

interface Master {
  id: string;
  url: string;
  svc: ServiceProcess;
}
const h = {} as { dbUrl: string; broker: Mosquitto; masters: Master[]; exportDir: string; keys: string };

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function startMaster(n: number, port?: number): Promise<Master> {
  const p = port ?? (await freePort());
  const id = `cluster-master-${n}`;
  const svc = startService('master/src/main.ts', {
    DATABASE_URL: h.dbUrl,
    MASTER_DATA_DIR: await tempDir(),
    MASTER_EXPORT_DIR: h.exportDir,
    // The keys that sign sessions and grants and seal secrets are one set for the cluster.
    MASTER_SESSION_KEY_FILE: `${h.keys}/session.json`,
    MASTER_GRANT_KEY_FILE: `${h.keys}/grant.json`,
    MASTER_CAMERA_KEY_FILE: `${h.keys}/camera-secrets.json`,
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(p),
    MQTT_URL: h.broker.url,
    MASTER_INSTANCE_ID: id,
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    MASTER_STALE_AFTER_S: '3',
    MASTER_HEARTBEAT_FLUSH_MS: '200',
  });
  const url = `https://127.0.0.1:${p}`;
  await waitHealthy(svc, `${url}/healthz`);
  return { id, url, svc };
}

/** A signed-in fleet socket and every message it got. */
async function fleetSocket(
  s: Pick<ApiSession, 'socket'>,
): Promise<{ ws: WebSocket; messages: { type: string; [k: string]: unknown }[]; closed: Promise<number> }> {
  const ws = s.socket('/ws');
  const messages: { type: string; [k: string]: unknown }[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  onCleanup(() => ws.terminate());
  await waitFor('fleet snapshot', async () => messages.some((m) => m.type === 'snapshot'));
  return { ws, messages, closed };
}

const leaders = async () =>
  Promise.all(h.masters.map(async (m) => (await metric(m.url, 'cctv_master_leader').catch(() => 0)) === 1));

describe('several masters behind one database and one broker', () => {
  before(async () => {
    h.dbUrl = (await startTestDatabase()).url;
    h.broker = await startMosquitto();
    h.exportDir = await tempDir();
    h.keys = await tempDir();
    // One after the other: the first migrates nothing (the test database is migrated) and makes
    // the first admin; the second finds it.
    h.masters = [await startMaster(1), await startMaster(2)];
  });

  it('applies each node message once and shows every change on both masters’ dashboards', async () => {
    const sessions = await Promise.all(h.masters.map((m) => signInAdmin(m.url)));
    const sockets = await Promise.all(sessions.map((s) => fleetSocket(s)));
    const fleet = await startFleet({
      url: h.broker.url,
      nodes: 4,
      camerasPerNode: 1,
      heartbeatS: 1,
      eventsPerS: 0,
      prefix: 'mc',
    });
    onCleanup(() => fleet.stop());
    for (const [i, s] of sockets.entries())
      await waitFor(`master ${i + 1}'s dashboard shows the 4 nodes online`, async () => {
        const online = new Set(
          s.messages
            .filter((m) => m.type === 'node' && (m.node as { state: string }).state === 'online')
            .map((m) => (m.node as { id: string }).id),
        );
        return fleet.nodeIds.every((id) => online.has(id));
      });
    // Heartbeats flowing: each applied by one master only.
    await new Promise((r) => setTimeout(r, 3000));
    const sent = fleet.stats().heartbeatsSent;
    await waitFor('every heartbeat applied', async () => {
      const applied = await Promise.all(
        h.masters.map((m) => metric(m.url, 'cctv_mqtt_messages_total{kind="heartbeat"}')),
      );
      return applied.reduce((a, b) => a + b, 0) >= sent;
    });
    const applied = await Promise.all(
      h.masters.map((m) => metric(m.url, 'cctv_mqtt_messages_total{kind="heartbeat"}')),
    );
    const sentNow = fleet.stats().heartbeatsSent;
    const total = applied.reduce((a, b) => a + b, 0);
    console.log(`heartbeats: ${sentNow} sent, applied ${applied.join(' + ')}`);
    assert.ok(total <= sentNow, `no heartbeat applied twice: ${applied.join(' + ')} of ${sentNow}`);
    assert.ok(
      applied.every((n) => n > 0),
      `both masters take a share: ${applied.join(' + ')}`,
    );

    // An event stored by one master reaches both dashboards.
    const client = await mqtt.connectAsync(h.broker.url, { clientId: 'agent-mc-1', protocolVersion: 5 });
    onCleanup(() => client.endAsync(true));
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      ids.push(id);
      const at = new Date().toISOString();
      const message: EventMessage = {
        id,
        seq: 0,
        type: 'motion',
        phase: 'start',
        cameraId: 'mc-1-cam-1',
        startedAt: at,
        at,
        boxes: [],
        score: 0.5,
        bestAt: at,
        frames: 1,
      };
      await client.publishAsync(topics.events('mc-1'), JSON.stringify(message), { qos: 1 });
    }
    for (const [i, s] of sockets.entries())
      await waitFor(`master ${i + 1}'s dashboard shows the 6 events`, async () => {
        const seen = new Set(
          s.messages.filter((m) => m.type === 'event').map((m) => (m.event as { id: string }).id),
        );
        return ids.every((id) => seen.has(id));
      });
    const stored = await Promise.all(h.masters.map((m) => metric(m.url, 'cctv_events_ingested_total')));
    assert.equal(
      stored.reduce((a, b) => a + b, 0),
      6,
      `each event stored once: ${stored.join(' + ')}`,
    );
  });

  it('signs a session out on every master', async () => {
    const [a, b] = h.masters as [Master, Master];
    const session = await signInAdmin(a.url);
    // The same session's socket at the other master.
    const atB = await fleetSocket({
      socket: () =>
        new WebSocket(`${b.url.replace(/^http/, 'ws')}/ws`, { headers: { cookie: session.cookie } }),
    });
    const t0 = Date.now();
    assert.equal((await session.postJson('/api/auth/logout', {})).status, 204);
    const code = await Promise.race([atB.closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    assert.equal(code, 4001, 'the socket at the other master closed as signed out');
    console.log(`sign-out at master 1 closed the socket at master 2 in ${Date.now() - t0} ms`);
  });

  it('sends a command through one master and gets the reply there', async () => {
    const nodeId = 'mc-cmd';
    const client = await mqtt.connectAsync(h.broker.url, { clientId: `agent-${nodeId}`, protocolVersion: 5 });
    onCleanup(() => client.endAsync(true));
    await client.subscribeAsync(topics.cmdFilter(nodeId), { qos: 1 });
    client.on('message', (topic, payload) => {
      const req = JSON.parse(payload.toString()) as { reqId: string };
      void client.publishAsync(
        topics.reply(nodeId, req.reqId),
        JSON.stringify({
          reqId: req.reqId,
          command: topic.split('/').at(-1),
          at: new Date().toISOString(),
          ok: true,
          result: { pong: true },
        }),
        { qos: 1 },
      );
    });
    await client.publishAsync(
      topics.status(nodeId),
      JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: '1.0.0' }),
      { qos: 1, retain: true },
    );
    for (const m of h.masters) {
      const s = await signInAdmin(m.url);
      await waitFor(`${nodeId} known at ${m.id}`, async () => (await s.fetch(`/api/nodes/${nodeId}`)).ok);
      for (let i = 0; i < 4; i++) {
        const res = await s.postJson(`/api/nodes/${nodeId}/commands/ping`, {});
        assert.equal(res.status, 200, `ping ${i + 1} through ${m.id}: ${res.status} ${await res.text()}`);
      }
    }
  });

  it('has one leader, and the other master takes over when it is killed', async () => {
    await waitFor('one leader', async () => (await leaders()).filter(Boolean).length === 1);
    const lead = (await leaders()).indexOf(true);
    const killed = h.masters[lead] as Master;
    const survivor = h.masters[1 - lead] as Master;
    const fleet = await startFleet({
      url: h.broker.url,
      nodes: 1,
      camerasPerNode: 1,
      heartbeatS: 1,
      eventsPerS: 0,
      prefix: 'mc-stale',
    });
    onCleanup(() => fleet.stop());
    const s = await signInAdmin(survivor.url);
    const state = async () =>
      ((await s.getJson<{ state: string }>('/api/nodes/mc-stale-1')) ?? { state: '' }).state;
    await waitFor(
      'mc-stale-1 online',
      async () => (await s.fetch('/api/nodes/mc-stale-1')).ok && (await state()) === 'online',
    );
    const t0 = Date.now();
    await killed.svc.kill('SIGKILL');
    await waitFor(
      'the survivor leads',
      async () => (await metric(survivor.url, 'cctv_master_leader')) === 1,
      10_000,
      100,
    );
    const takeoverMs = Date.now() - t0;
    console.log(`leadership taken over ${takeoverMs} ms after kill -9`);
    assert.ok(takeoverMs < 5000, `took over within 5 s: ${takeoverMs} ms`);
    // The new leader judges stale nodes: heartbeats stop, the node turns stale.
    fleet.heartbeats(false);
    await waitFor(
      'mc-stale-1 stale, judged by the survivor',
      async () => (await state()) === 'stale',
      15_000,
      250,
    );
  });
});
