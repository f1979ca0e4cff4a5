import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type HeartbeatMessage,
  type HelloMessage,
  type NodeStateChangeView,
  type NodeView,
  topics,
} from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { enrolTestNode } from '../../test/support/enrol.ts';
import { onCleanup, startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import {
  type ApiSession,
  signInAdmin,
  TEST_ADMIN_PASSWORD,
  testMasterEnv,
} from '../../test/support/session.ts';
import { serviceTlsEnv } from '../../test/support/tls.ts';
import { loadConfig } from '../src/config.ts';
import { type RunningMaster, startMaster } from '../src/master.ts';

const now = () => new Date().toISOString();

function hello(nodeId: string): HelloMessage {
  return {
    protocolVersion: 1,
    nodeId,
    agentVersion: '0.1.0',
    at: now(),
    host: { hostname: 'pi-gate', platform: 'linux', arch: 'arm64', cpus: 4, memTotalBytes: 4e9 },
    capabilities: { ffmpegVersion: '5.1', hwEncoders: [] },
    cameras: [
      {
        id: `${nodeId}-cam1`,
        name: 'Gate',
        codec: 'hevc',
        width: 1920,
        height: 1080,
        fps: 15,
        simulated: false,
        recording: { mode: 'copy', encoder: 'copy', reason: 'source is hevc' },
      },
    ],
  };
}

function heartbeat(nodeId: string, seq: number): HeartbeatMessage {
  return {
    seq,
    at: now(),
    uptimeS: seq * 5,
    cpu: { percent: 12.5, load1: 0.4 },
    mem: { rssBytes: 80e6, totalBytes: 4e9, freeBytes: 2e9 },
    tempC: 51.2,
    disk: { spoolFreeBytes: 10e9, spoolUsedBytes: 1e9 },
    cameras: [
      {
        id: `${nodeId}-cam1`,
        state: 'recording',
        fps: 15,
        bitrateKbps: 4000,
        lastSegmentAt: now(),
        segmentsRecorded: seq,
        backlogFiles: 0,
        backlogBytes: 0,
      },
    ],
  };
}

/** Node credentials by node id, enrolled before the tests. */
const passwords = new Map<string, string>();

function connectAgent(port: number, nodeId: string): Promise<MqttClient> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: `agent-${nodeId}`,
    username: nodeId,
    password: passwords.get(nodeId) ?? '',
    reconnectPeriod: 0,
    will: {
      topic: topics.status(nodeId),
      payload: Buffer.from(JSON.stringify({ state: 'offline', at: now(), agentVersion: '0.1.0' })),
      qos: 1,
      retain: true,
    },
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

async function metric(master: RunningMaster, line: string): Promise<number> {
  const text = await (await fetch(`https://127.0.0.1:${master.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : 0;
}

/** The first admin's session on the master under test. */
let admin: ApiSession;
const getNodes = async (_m: RunningMaster): Promise<NodeView[]> => admin.getJson<NodeView[]>('/api/nodes');

describe('master fleet registry over the embedded broker', () => {
  let master: RunningMaster;

  before(async () => {
    const db = await startTestDatabase();
    const dataDir = await tempDir();
    const config = loadConfig({
      ...serviceTlsEnv(),
      DATABASE_URL: db.url,
      MASTER_DATA_DIR: dataDir,
      MASTER_HTTP_PORT: '0',
      MQTT_PORT: '0',
      MASTER_HTTP_HOST: '127.0.0.1',
      MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      MQTT_HOST: '127.0.0.1',
    });
    master = await startMaster(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
    admin = await signInAdmin(`https://127.0.0.1:${master.httpPort}`);
    for (const id of ['n1', 'n2', 'n3']) passwords.set(id, await enrolTestNode(db.url, id));
  });
  after(() => master?.stop());

  it('registers a node from status, hello and heartbeat and pushes changes to the websocket', async () => {
    const ws = admin.socket();
    const messages: { type: string; node?: NodeView; nodes?: NodeView[] }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
    await waitFor('snapshot', () => messages.find((m) => m.type === 'snapshot'));

    const agent = await connectAgent(master.mqttPort, 'n1');
    const online = JSON.stringify({ state: 'online', at: now(), agentVersion: '0.1.0' });
    await agent.publishAsync(topics.status('n1'), online, { qos: 1, retain: true });
    await agent.publishAsync(topics.hello('n1'), JSON.stringify(hello('n1')), { qos: 1 });
    await agent.publishAsync(topics.heartbeat('n1'), JSON.stringify(heartbeat('n1', 1)), { qos: 0 });

    const node = await waitFor('node online with camera recording', async () => {
      const n = (await getNodes(master)).find((x) => x.id === 'n1');
      return n?.state === 'online' && n.cameras[0]?.state === 'recording' && n.lastHeartbeatAt ? n : null;
    });
    assert.equal(node.hostname, 'pi-gate');
    assert.equal(node.cameras[0]?.id, 'n1-cam1');
    const cams = (await admin.getJson('/api/cameras')) as unknown[];
    assert.equal(cams.length, 1);
    await waitFor('websocket node update', () =>
      messages.find(
        (m) => m.type === 'node' && m.node?.id === 'n1' && m.node.cameras[0]?.state === 'recording',
      ),
    );

    // An abrupt disconnect fires the last will: offline within 2 s.
    const t0 = Date.now();
    agent.stream.destroy();
    await waitFor(
      'node offline after socket loss',
      async () => (await getNodes(master)).find((x) => x.id === 'n1')?.state === 'offline',
      2000,
      50,
    );
    assert.ok(Date.now() - t0 <= 2000);

    // The state history: online, then offline (the last will), newest first.
    const api = '/api/nodes';
    const history = (await (await admin.fetch(`${api}/n1/history`)).json()) as NodeStateChangeView[];
    assert.deepEqual(
      history.map((h) => `${h.state}/${h.reason}`),
      ['offline/status', 'online/status'],
    );
    assert.ok(Date.parse(history[0]?.at ?? '') >= Date.parse(history[1]?.at ?? ''));
    assert.equal((await admin.fetch(`${api}/n1/history?limit=0`)).status, 400);
    assert.equal((await admin.fetch(`${api}/n1/history?limit=abc`)).status, 400);
    assert.equal((await admin.fetch(`${api}/nobody/history`)).status, 404);
    assert.equal((await admin.fetch(`${api}/Bad..Id/history`)).status, 400);
    await waitFor('websocket offline update', () =>
      messages.find((m) => m.type === 'node' && m.node?.id === 'n1' && m.node.state === 'offline'),
    );
    agent.end(true);
    ws.close();
  });

  it('rejects and counts malformed hello and heartbeat payloads and keeps running', async () => {
    const agent = await connectAgent(master.mqttPort, 'n2');
    const helloBefore = await metric(
      master,
      'cctv_mqtt_messages_rejected_total{kind="hello",reason="invalid_payload"}',
    );
    const hbBefore = await metric(
      master,
      'cctv_mqtt_messages_rejected_total{kind="heartbeat",reason="invalid_payload"}',
    );
    await agent.publishAsync(topics.hello('n2'), '{"protocolVersion":1,"nodeId":"n2"', { qos: 1 });
    await agent.publishAsync(topics.hello('n2'), JSON.stringify({ ...hello('n2'), cameras: 'many' }), {
      qos: 1,
    });
    await agent.publishAsync(topics.heartbeat('n2'), JSON.stringify({ seq: -1 }), { qos: 1 });
    await waitFor('rejections counted', async () => {
      const h = await metric(
        master,
        'cctv_mqtt_messages_rejected_total{kind="hello",reason="invalid_payload"}',
      );
      const b = await metric(
        master,
        'cctv_mqtt_messages_rejected_total{kind="heartbeat",reason="invalid_payload"}',
      );
      return h === helloBefore + 2 && b === hbBefore + 1;
    });
    assert.equal(
      (await getNodes(master)).find((n) => n.id === 'n2'),
      undefined,
      'nothing stored',
    );
    // Still serving and still ingesting.
    await agent.publishAsync(topics.hello('n2'), JSON.stringify(hello('n2')), { qos: 1 });
    await waitFor('valid hello after bad ones', async () =>
      (await getNodes(master)).some((n) => n.id === 'n2'),
    );
    const health = await fetch(`https://127.0.0.1:${master.httpPort}/healthz`);
    assert.equal(health.status, 200);
    agent.end(true);
  });

  it('counts a heartbeat from an unknown node and refuses publishes under another node prefix', async () => {
    const agent = await connectAgent(master.mqttPort, 'n3');
    await agent.publishAsync(topics.heartbeat('n3'), JSON.stringify(heartbeat('n3', 1)), { qos: 1 });
    await waitFor(
      'unknown node counted',
      async () =>
        (await metric(master, 'cctv_mqtt_messages_rejected_total{kind="heartbeat",reason="unknown_node"}')) >=
        1,
    );
    const refusedBefore = await metric(master, 'cctv_mqtt_publish_refused_total{reason="foreign_node"}');
    // aedes closes the connection of a client whose QoS1 publish is not authorized.
    agent.publish(topics.hello('n1'), JSON.stringify(hello('n1')), { qos: 1 });
    await waitFor(
      'refusal counted',
      async () =>
        (await metric(master, 'cctv_mqtt_publish_refused_total{reason="foreign_node"}')) > refusedBefore,
    );
    const n1 = (await getNodes(master)).find((n) => n.id === 'n1');
    assert.equal(n1?.hostname, 'pi-gate', 'the foreign hello changed nothing');
    agent.end(true);
  });

  it('answers unknown nodes and bad ids with clear errors', async () => {
    const unknown = await admin.fetch(`/api/nodes/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'UNKNOWN_NODE');
    const bad = await admin.fetch(`/api/nodes/Bad_Id`);
    assert.equal(bad.status, 400);
  });
});

describe('stale nodes', () => {
  it('marks an online node stale when its heartbeats stop, and online again when one comes', async () => {
    const db = await startTestDatabase();
    const m = await startMaster(
      loadConfig(
        await testMasterEnv(db.url, {
          MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
          MASTER_STALE_AFTER_S: '1',
          MASTER_HEARTBEAT_FLUSH_MS: '100',
        }),
      ),
      pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    );
    onCleanup(() => m.stop());
    passwords.set('s1', await enrolTestNode(db.url, 's1'));
    const session = await signInAdmin(`https://127.0.0.1:${m.httpPort}`);
    const ws = session.socket();
    onCleanup(() => ws.close());
    const states: string[] = [];
    ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as { type: string; node?: NodeView };
      if (msg.type === 'node' && msg.node?.id === 's1' && states.at(-1) !== msg.node.state)
        states.push(msg.node.state);
    });
    const agent = await connectAgent(m.mqttPort, 's1');
    onCleanup(() => agent.endAsync(true));
    const online = JSON.stringify({ state: 'online', at: now(), agentVersion: '0.1.0' });
    await agent.publishAsync(topics.status('s1'), online, { qos: 1, retain: true });
    await agent.publishAsync(topics.hello('s1'), JSON.stringify(hello('s1')), { qos: 1 });
    await agent.publishAsync(topics.heartbeat('s1'), JSON.stringify(heartbeat('s1', 1)), { qos: 0 });
    const state = async () => (await session.getJson<NodeView>('/api/nodes/s1')).state;
    await waitFor('online', async () => (await state()) === 'online');

    // No heartbeat for over a second: stale, while the MQTT session (and the status) still says online.
    const t0 = Date.now();
    await waitFor('stale', async () => (await state()) === 'stale', 5000, 50);
    const staleAfterMs = Date.now() - t0;
    assert.ok(staleAfterMs < 2500, `stale after ${staleAfterMs} ms`);
    // Pushed before the node comes back: a dashboard gets a node's view as it is when read, so
    // two changes within one gathering of the cluster feed (100 ms) show as the second.
    await waitFor('stale pushed to the websocket', () => states.at(-1) === 'stale');
    await agent.publishAsync(topics.heartbeat('s1'), JSON.stringify(heartbeat('s1', 2)), { qos: 0 });
    await waitFor('online again', async () => (await state()) === 'online', 5000, 50);

    const history = await session.getJson<NodeStateChangeView[]>('/api/nodes/s1/history');
    assert.deepEqual(
      history.map((h) => `${h.state}/${h.reason}`),
      ['online/heartbeat', 'stale/heartbeat-age', 'online/status'],
    );
    await waitFor('pushed to the websocket', () => states.join(',') === 'online,stale,online');
    const gauge = await (await fetch(`https://127.0.0.1:${m.httpPort}/metrics`)).text();
    assert.match(gauge, /cctv_nodes\{state="stale"\} 0/);
  });
});
