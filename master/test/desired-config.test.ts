/**
 * The desired configuration through the master's API, with nodes that answer as agents do (raw
 * MQTT, enrolled): a camera added is pushed with its password put back into the URL, while no
 * answer, audit row or database column shows the password; a node offline during a change gets
 * the newest version when its heartbeat shows it behind; a rollback writes a new version with
 * the old cameras; a node that turned file-managed refuses once and the node view says why.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  type AuditPage,
  type CameraChangeAnswer,
  type CameraSettingsList,
  type CommandReply,
  type CommandRequest,
  type ConfigCommandArgs,
  type ConfigHeartbeat,
  type HeartbeatMessage,
  type NodeConfigView,
  type NodeView,
  topics,
} from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { enrolTestNode } from '../../test/support/enrol.ts';
import { onCleanup, waitFor } from '../../test/support/index.ts';
import { type ApiSession, signIn } from '../../test/support/session.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';

const SECRET = 'cam-Pa55:w/rd@x';

interface FakeAgent {
  client: MqttClient;
  pushes: ConfigCommandArgs[];
  config: ConfigHeartbeat;
  /** Publishes a heartbeat carrying `config` now. */
  beat(): Promise<void>;
  stop(): Promise<void>;
}

/** A node that applies (master mode) or refuses (file mode) `cmd/config` as the agent does. */
async function fakeAgent(
  h: EventHarness,
  nodeId: string,
  mode: 'master' | 'file',
  password: string,
): Promise<FakeAgent> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.master.mqttPort}`, {
    clientId: `agent-${nodeId}`,
    username: nodeId,
    password,
    reconnectPeriod: 0,
  });
  let seq = 1;
  const me: FakeAgent = {
    client,
    pushes: [],
    config: { mode, version: null },
    async beat() {
      const hb: HeartbeatMessage = {
        seq: seq++,
        at: new Date().toISOString(),
        uptimeS: 1,
        cpu: { percent: 1, load1: 0 },
        mem: { rssBytes: 1, totalBytes: 2, freeBytes: 1 },
        tempC: null,
        disk: { spoolFreeBytes: 1, spoolUsedBytes: 0 },
        config: me.config,
        cameras: [],
      };
      await client.publishAsync(topics.heartbeat(nodeId), JSON.stringify(hb), { qos: 0 });
    },
    /** Goes offline as an agent does: its offline status, then the connection closed. */
    async stop() {
      await client.publishAsync(
        topics.status(nodeId),
        JSON.stringify({ state: 'offline', at: new Date().toISOString(), agentVersion: '1.0.0' }),
        { qos: 1, retain: true },
      );
      await client.endAsync(true);
    },
  };
  await client.subscribeAsync(topics.cmdFilter(nodeId), { qos: 1 });
  client.on('message', (topic, payload) => {
    const req = JSON.parse(payload.toString()) as CommandRequest;
    if (!topic.endsWith('/cmd/config')) return;
    const args = req.args as ConfigCommandArgs;
    me.pushes.push(args);
    let reply: Omit<CommandReply, 'reqId' | 'command' | 'at'>;
    if (me.config.mode === 'file') {
      const message =
        'this node is file-managed: its cameras come from /etc/cctv/agent.yaml (management: file)';
      me.config = { ...me.config, failed: { version: args.version ?? 0, reason: message } };
      reply = { ok: false, error: { code: 'FILE_MANAGED', message } };
    } else {
      me.config = { mode: 'master', version: args.version ?? null };
      reply = { ok: true, result: { added: [], removed: [], changed: [], unchanged: [] } };
    }
    const body: CommandReply = {
      reqId: req.reqId,
      command: 'config',
      at: new Date().toISOString(),
      ...reply,
    };
    void client.publishAsync(topics.reply(nodeId, req.reqId), JSON.stringify(body), { qos: 1 });
  });
  await client.publishAsync(
    topics.status(nodeId),
    JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: '1.0.0' }),
    { qos: 1, retain: true },
  );
  // A heartbeat before the status is applied is dropped (unknown node): beat until one is stored.
  await waitFor(`${nodeId}'s heartbeat stored`, async () => {
    await me.beat();
    const view = await h.getJson<NodeView>(`/api/nodes/${nodeId}`);
    return view.state === 'online' && view.config.mode === mode;
  });
  onCleanup(() => client.endAsync(true));
  return me;
}

describe('desired configuration', () => {
  let h: EventHarness;
  let admin: ApiSession;
  let operator: ApiSession;
  let passwords: Map<string, string>;

  /** Adds a camera with just a name and a stream URL. */
  const addCamera = (s: ApiSession, id: string, nodeId: string, url = `rtsp://cam.test/${id}`) =>
    s.postJson('/api/config/cameras', { id, nodeId, name: id, url });
  const nodeView = (id: string) => admin.getJson<NodeView>(`/api/nodes/${id}`);
  const put = (path: string, body: unknown) =>
    admin.fetch(path, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    h = await startEventHarness('http://gw.test:8090');
    admin = h.session;
    passwords = new Map();
    for (const id of ['cfg-a', 'cfg-b', 'cfg-file'])
      passwords.set(id, await enrolTestNode(h.master.databaseUrl, id));
    const res = await admin.postJson('/api/users', {
      username: 'cfg-op',
      password: 'config-secret-31-x',
      role: 'operator',
      cameras: ['door'],
    });
    assert.equal(res.status, 201);
    operator = await signIn(h.api(''), 'cfg-op', 'config-secret-31-x');
  });

  it('adds a camera: the node gets the password inside its URL, nothing else ever shows it', async () => {
    const node = await fakeAgent(h, 'cfg-a', 'master', passwords.get('cfg-a') as string);
    await waitFor('cfg-a online', async () => (await nodeView('cfg-a')).state === 'online');
    const res = await admin.postJson('/api/config/cameras', {
      id: 'door',
      nodeId: 'cfg-a',
      name: 'Door',
      url: `rtsp://viewer:${encodeURIComponent(SECRET)}@cam.test:554/main`,
      substreamUrl: 'rtsp://viewer@cam.test:554/sub',
      detect: {
        motion: {
          zones: [
            {
              name: 'porch',
              points: [
                [0, 0],
                [0.5, 0],
                [0.5, 0.5],
              ],
            },
          ],
        },
      },
      retentionDays: 14,
    });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const answer = JSON.parse(text) as CameraChangeAnswer;
    assert.equal(answer.version, 1);
    assert.equal(answer.push.state, 'applied');
    assert.equal(answer.camera?.url, 'rtsp://viewer@cam.test:554/main');
    assert.equal(answer.camera?.hasPassword, true);
    assert.equal(answer.camera?.retentionDays, 14);
    assert.equal('retentionDays' in (node.pushes[0]?.cameras[0] ?? {}), false, 'the node does not get it');
    assert.equal(node.pushes.length, 1);
    const pushed = node.pushes[0]?.cameras[0];
    assert.equal(pushed?.url, `rtsp://viewer:${encodeURIComponent(SECRET)}@cam.test:554/main`);
    assert.equal(pushed?.substreamUrl, `rtsp://viewer:${encodeURIComponent(SECRET)}@cam.test:554/sub`);
    assert.equal(node.pushes[0]?.version, 1);

    await node.beat();
    await waitFor('in sync', async () => (await nodeView('cfg-a')).config.sync === 'in_sync');

    // A change that leaves the password out keeps it; the audit names the fields changed.
    const changed = await put('/api/config/cameras/door', {
      name: 'Front door',
      url: 'rtsp://viewer@cam.test:554/main',
      substreamUrl: 'rtsp://viewer@cam.test:554/sub',
    });
    assert.equal(changed.status, 200, await changed.clone().text());
    assert.equal(((await changed.json()) as CameraChangeAnswer).version, 2);
    assert.match(
      node.pushes[1]?.cameras[0]?.url ?? '',
      new RegExp(encodeURIComponent(SECRET).replace(/[%]/g, '%')),
    );

    const list = await admin.getJson<CameraSettingsList>('/api/config/cameras');
    assert.deepEqual(
      list.cameras.map((c) => [c.id, c.name, c.hasPassword, c.version]),
      [['door', 'Front door', true, 2]],
    );
    const audit = await admin.getJson<AuditPage>('/api/audit?camera=door');
    assert.deepEqual(
      audit.entries.map((e) => e.action),
      ['camera_update', 'camera_create'],
    );
    assert.deepEqual((audit.entries[0]?.detail as { changed?: string[] } | undefined)?.changed, [
      'name',
      'detect',
      'retentionDays',
    ]);

    // Nowhere to be read: answers, audit, the rows (sealed with a key outside the database).
    const everything = [
      text,
      JSON.stringify(list),
      JSON.stringify(audit),
      JSON.stringify(await h.db.nodeConfigVersion.findMany()),
      JSON.stringify(await h.db.auditEntry.findMany(), (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
    ].join('\n');
    for (const form of [SECRET, encodeURIComponent(SECRET)]) assert.ok(!everything.includes(form), form);
    const row = await h.db.nodeConfigVersion.findFirst({ where: { nodeId: 'cfg-a', version: 2 } });
    assert.match(row?.secrets ?? '', /^v1\.[\w-]{8}\.[\w-]+\.[\w-]+\.[\w-]+$/);

    // The master's own role may not rewrite history.
    await assert.rejects(
      h.masterDb.nodeConfigVersion.update({
        where: { nodeId_version: { nodeId: 'cfg-a', version: 1 } },
        data: { note: 'x' },
      }),
    );
  });

  it('keeps operators to their cameras and admins-only actions to admins', async () => {
    const add = await addCamera(operator, 'yard', 'cfg-a', 'rtsp://cam.test/yard');
    assert.equal(add.status, 403, 'an operator without every camera adds none');
    const own = await operator.fetch('/api/config/cameras/door', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Front door', url: 'rtsp://viewer@cam.test:554/main', enabled: false }),
    });
    assert.equal(own.status, 200, 'an operator changes a camera they have');
    assert.equal((await operator.fetch('/api/config/cameras/door', { method: 'DELETE' })).status, 403);
    assert.equal((await operator.postJson('/api/config/nodes/cfg-a/rollback', { version: 1 })).status, 403);
    const bad = await addCamera(admin, 'ftp', 'cfg-a', 'ftp://cam.test/x');
    assert.equal(bad.status, 400);
    const taken = await addCamera(admin, 'door', 'cfg-a', 'rtsp://cam.test/x');
    assert.equal(taken.status, 409);
  });

  it('a node offline during a change gets it with its next heartbeat; rollback writes a new version', async () => {
    const node = await fakeAgent(h, 'cfg-b', 'master', passwords.get('cfg-b') as string);
    await waitFor('cfg-b online', async () => (await nodeView('cfg-b')).state === 'online');
    const first = await addCamera(admin, 'gate', 'cfg-b', 'rtsp://cam.test/gate');
    assert.equal(first.status, 201);
    await node.stop();
    await waitFor('cfg-b offline', async () => (await nodeView('cfg-b')).state === 'offline');

    const second = await addCamera(admin, 'garage', 'cfg-b', 'rtsp://cam.test/garage');
    const queued = (await second.json()) as CameraChangeAnswer;
    assert.deepEqual([queued.version, queued.push.state], [2, 'queued']);
    assert.equal((await nodeView('cfg-b')).config.sync, 'pending');

    // Back, still at version 1 (it was away): the heartbeat brings version 2 to it.
    // (It starts reporting no version, as a reinstalled node would; the master sends it the newest.)
    const back = await fakeAgent(h, 'cfg-b', 'master', passwords.get('cfg-b') as string);
    await waitFor('version 2 pushed on return', () => back.pushes.some((p) => p.version === 2), 10_000);
    await waitFor('in sync again', async () => {
      await back.beat();
      return (await nodeView('cfg-b')).config.sync === 'in_sync';
    });

    const rolled = await admin.postJson('/api/config/nodes/cfg-b/rollback', { version: 1 });
    assert.equal(rolled.status, 200, await rolled.clone().text());
    const answer = (await rolled.json()) as CameraChangeAnswer;
    assert.deepEqual([answer.version, answer.push.state], [3, 'applied']);
    assert.deepEqual(
      back.pushes.at(-1)?.cameras.map((c) => c.id),
      ['gate'],
    );
    const versions = await admin.getJson<NodeConfigView>('/api/config/nodes/cfg-b');
    assert.deepEqual(
      versions.versions.map((v) => [v.version, v.note, v.cameraIds]),
      [
        [3, 'rollback to 1', ['gate']],
        [2, 'camera_create garage', ['gate', 'garage']],
        [1, 'camera_create gate', ['gate']],
      ],
    );
    assert.equal((await admin.postJson('/api/config/nodes/cfg-b/rollback', { version: 9 })).status, 404);
  });

  it('a file-managed node is refused up front, and one that turned file-managed says why', async () => {
    const file = await fakeAgent(h, 'cfg-file', 'file', passwords.get('cfg-file') as string);
    await waitFor(
      'cfg-file reports file mode',
      async () => (await nodeView('cfg-file')).config.mode === 'file',
    );
    const refused = await addCamera(admin, 'shed', 'cfg-file', 'rtsp://cam.test/shed');
    assert.equal(refused.status, 409);
    assert.match(await refused.text(), /file-managed/);
    assert.equal(file.pushes.length, 0);

    // cfg-b has a desired configuration; its host's file now says management: file.
    await h.db.nodeConfigVersion.count();
    const b = await fakeAgent(h, 'cfg-b', 'file', passwords.get('cfg-b') as string);
    await waitFor('the newest version pushed once and refused', () => b.pushes.length === 1, 10_000);
    await b.beat();
    await waitFor('file-managed with the reason', async () => {
      const c = (await nodeView('cfg-b')).config;
      return c.sync === 'file_managed' && /file-managed/.test(c.reason ?? '');
    });
    await b.beat();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.pushes.length, 1, 'a refused version is not pushed again');
  });
});
