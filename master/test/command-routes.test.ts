import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type AuditPage, type CommandReply, type CommandRequest, topics } from '@cctv/protocol';
import type { MqttClient } from 'mqtt';
import { waitFor } from '../../test/support/index.ts';
import { type ApiSession, signIn } from '../../test/support/session.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';
import { fakeNode, waitOnline } from './fake-node.ts';

describe('commands to nodes through the API', () => {
  let h: EventHarness;
  let admin: ApiSession;
  let operator: ApiSession;
  let viewer: ApiSession;
  let node: { client: MqttClient; received: string[] };

  before(async () => {
    h = await startEventHarness('http://gw.test:8090');
    admin = h.session;
    node = await fakeNode(h, 'cmd-a', (name, req) =>
      name === 'ping'
        ? { ok: true, result: { pong: true, agentVersion: '1.0.0', uptimeS: 1 } }
        : name === 'config' && req.args?.cameras === 'refuse'
          ? { ok: false, error: { code: 'BAD_REQUEST', message: 'cameras must be a list' } }
          : name === 'config'
            ? { ok: true, result: { added: [] } }
            : null,
    );
    await waitOnline(admin, 'cmd-a');
    await h.db.camera.create({ data: { id: 'cmd-a-cam', nodeId: 'cmd-a', name: 'A' } });
    for (const [username, role] of [
      ['op', 'operator'],
      ['watcher', 'viewer'],
    ] as const) {
      const res = await admin.postJson('/api/users', {
        username,
        password: 'commands-secret-31',
        role,
        cameras: ['cmd-a-cam'],
      });
      assert.equal(res.status, 201);
    }
    operator = await signIn(h.api(''), 'op', 'commands-secret-31');
    viewer = await signIn(h.api(''), 'watcher', 'commands-secret-31');
  });

  it('relays a ping and answers with the node’s reply, audited with its request id', async () => {
    const res = await operator.postJson('/api/nodes/cmd-a/commands/ping', {});
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { reqId: string; ok: boolean; result: { pong: boolean } };
    assert.equal(body.ok, true);
    assert.equal(body.result.pong, true);
    const bare = await operator.fetch('/api/nodes/cmd-a/commands/ping', { method: 'POST' });
    assert.equal(bare.status, 200, 'a POST without a body pings too');
    const audit = await admin.getJson<AuditPage>('/api/audit?action=node_command&user=op');
    const entry = audit.entries.find((e) => (e.detail as { reqId?: string }).reqId === body.reqId);
    assert.equal(entry?.nodeId, 'cmd-a');
    assert.deepEqual(entry?.detail, { command: 'ping', reqId: body.reqId, ok: true });
    assert.equal(await h.metric('cctv_node_commands_total{command="ping",result="ok"}'), 2);
  });

  it('keeps commands to roles and visible nodes, and explains every refusal', async () => {
    assert.equal((await viewer.postJson('/api/nodes/cmd-a/commands/ping', {})).status, 403);
    assert.equal(
      (await operator.postJson('/api/nodes/cmd-a/commands/config', { args: { cameras: [] } })).status,
      403,
      'only admins change cameras',
    );
    const unknown = await admin.postJson('/api/nodes/cmd-a/commands/format-disk', {});
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /UNKNOWN_COMMAND/);
    assert.equal((await admin.postJson('/api/nodes/nobody/commands/ping', {})).status, 404);
    assert.equal((await admin.postJson('/api/nodes/Bad_Id/commands/ping', {})).status, 400);
    assert.equal(
      (await admin.postJson('/api/nodes/cmd-a/commands/ping', { timeoutMs: 5 })).status,
      400,
      'a timeout under 100 ms is refused',
    );
    assert.equal((await admin.postJson('/api/nodes/cmd-a/commands/ping', { extra: 1 })).status, 400);
    await h.db.node.create({ data: { id: 'cmd-off', state: 'offline' } });
    await h.db.camera.create({ data: { id: 'cmd-off-cam', nodeId: 'cmd-off', name: 'Off' } });
    const offline = await admin.postJson('/api/nodes/cmd-off/commands/ping', {});
    assert.equal(offline.status, 409);
    // A node the operator cannot see is unknown to it.
    assert.equal((await operator.postJson('/api/nodes/cmd-off/commands/ping', {})).status, 404);
  });

  it('answers 422 with the node’s error, and 504 when no reply comes in time', async () => {
    const refused = await admin.postJson('/api/nodes/cmd-a/commands/config', { args: { cameras: 'refuse' } });
    assert.equal(refused.status, 422);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'BAD_REQUEST');

    const silent = await fakeNode(h, 'cmd-mute', () => null);
    await waitOnline(admin, 'cmd-mute');
    const t0 = Date.now();
    const timedOut = await admin.postJson('/api/nodes/cmd-mute/commands/ping', { timeoutMs: 300 });
    assert.equal(timedOut.status, 504);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(silent.received, ['ping:{}'], 'the request reached the node once');
    assert.equal(await h.metric('cctv_node_commands_total{command="ping",result="timeout"}'), 1);
  });

  it('drops a reply published by another node under its own prefix', async () => {
    // cmd-b answers cmd-a's request ids under its own prefix (the ACL allows nothing else).
    const liar = await fakeNode(h, 'cmd-b', () => null);
    const before = await h.metric('cctv_mqtt_messages_rejected_total{kind="reply",reason="wrong_node"}');
    let stolen = 0;
    node.client.on('message', (_t, payload) => {
      const req = JSON.parse(payload.toString()) as CommandRequest;
      const fake: CommandReply = {
        reqId: req.reqId,
        command: 'ping',
        ok: false,
        at: new Date().toISOString(),
        error: { code: 'FAILED', message: 'forged' },
      };
      stolen++;
      void liar.client.publishAsync(topics.reply('cmd-b', req.reqId), JSON.stringify(fake), { qos: 1 });
    });
    const res = await admin.postJson('/api/nodes/cmd-a/commands/ping', {});
    assert.equal(res.status, 200, 'the genuine reply wins');
    assert.equal(stolen, 1);
    await waitFor(
      'forged reply counted',
      async () =>
        (await h.metric('cctv_mqtt_messages_rejected_total{kind="reply",reason="wrong_node"}')) > before,
    );
  });
});
