/**
 * `POST /api/nodes/:id/probe` on a real master (PostgreSQL, its broker) with a node stood in for by
 * a raw MQTT client: who may probe, the relay of the URL with its password put in, the node's
 * refusals as 422, 504 when the node stays silent, and the password kept out of the audit log,
 * the master's log and every answer.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AuditPage, CommandRequest, ProbeArgs, ProbeResult } from '@cctv/protocol';
import { memoryLogger } from '../../test/support/memory-log.ts';
import { type ApiSession, signIn } from '../../test/support/session.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';
import { fakeNode, waitOnline } from './fake-node.ts';

const NODE = 'probe-a';
const PASSWORD = 'Cam-p@ss/w0rd';
const ENCODED = encodeURIComponent(PASSWORD);
const PROBE = `/api/nodes/${NODE}/probe`;

const RESULT: ProbeResult = {
  codec: 'h264',
  width: 1920,
  height: 1080,
  fps: 25,
  transports: ['tcp'],
  hasAudio: false,
  snapshot: { mime: 'image/jpeg', base64: Buffer.from([0xff, 0xd8, 0xff, 0xd9]).toString('base64') },
};

/** What the node answers, by the URL's path. */
function answer(req: CommandRequest) {
  const args = req.args as ProbeArgs;
  const path = new URL(args.url).pathname;
  if (path === '/good') return { ok: true, result: RESULT };
  // An agent that repeats the URL it was given: the master must not pass the password on.
  if (path === '/wrong')
    return {
      ok: false,
      error: { code: 'AUTH_FAILED', message: `the camera refused the user name or password (${args.url})` },
    };
  if (path === '/junk') return { ok: true, result: { codec: 'h264' } };
  return null;
}

describe('probing a camera URL through the API', () => {
  let h: EventHarness;
  let admin: ApiSession;
  let operatorAll: ApiSession;
  let operatorSome: ApiSession;
  let viewerAll: ApiSession;
  let node: { received: string[] };
  let logLines: string[] = [];
  const answers: string[] = [];

  const probe = async (s: ApiSession, body: unknown) => {
    const res = await s.postJson(PROBE, body);
    const text = await res.text();
    answers.push(text);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  };

  before(async () => {
    const { logger, lines } = memoryLogger();
    logLines = lines;
    h = await startEventHarness('http://gw.test:8090', { log: logger });
    admin = h.session;
    node = await fakeNode(h, NODE, (name, req) => (name === 'probe' ? answer(req) : null));
    await waitOnline(admin, NODE);
    await h.db.camera.create({ data: { id: 'probe-a-cam', nodeId: NODE, name: 'A' } });
    const users = [
      ['op-all', 'operator', 'all'],
      ['op-some', 'operator', ['probe-a-cam']],
      ['viewer-all', 'viewer', 'all'],
    ] as const;
    for (const [username, role, cameras] of users) {
      const res = await admin.postJson('/api/users', {
        username,
        password: 'probe-secret-31',
        role,
        cameras,
      });
      assert.equal(res.status, 201, await res.text());
    }
    operatorAll = await signIn(h.api(''), 'op-all', 'probe-secret-31');
    operatorSome = await signIn(h.api(''), 'op-some', 'probe-secret-31');
    viewerAll = await signIn(h.api(''), 'viewer-all', 'probe-secret-31');
  });

  it('relays for admins and operators who see every camera, the password put into the URL', async () => {
    const url = 'rtsp://admin@10.0.0.5:554/good';
    const ok = await probe(admin, { url, password: PASSWORD, transports: ['tcp'] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, RESULT);
    assert.deepEqual(
      node.received.at(-1),
      `probe:${JSON.stringify({ url: `rtsp://admin:${ENCODED}@10.0.0.5:554/good`, timeoutMs: 10_000, transports: ['tcp'] })}`,
    );

    assert.equal((await probe(operatorAll, { url: 'rtsp://10.0.0.5/good' })).status, 200);

    const audit = await admin.getJson<AuditPage>('/api/audit?action=camera_probe&user=admin');
    const entry = audit.entries[0];
    assert.equal(entry?.nodeId, NODE);
    assert.deepEqual(
      { ...(entry?.detail as object), reqId: undefined },
      {
        url: 'rtsp://admin:***@10.0.0.5:554/good',
        reqId: undefined,
        ok: true,
        codec: 'h264',
        width: 1920,
        height: 1080,
        fps: 25,
        transports: ['tcp'],
      },
    );
  });

  it('refuses viewers and operators limited to some cameras', async () => {
    const body = { url: 'rtsp://10.0.0.5/good' };
    const before = node.received.length;
    for (const s of [viewerAll, operatorSome]) {
      const res = await probe(s, body);
      assert.equal(res.status, 403);
      assert.match(JSON.stringify(res.body), /all cameras/);
    }
    assert.equal(node.received.length, before, 'nothing reached the node');
    const ftp = await probe(admin, { url: 'ftp://x' });
    assert.equal(ftp.status, 400);
    assert.equal((ftp.body.error as { code: string }).code, 'BAD_URL');
    const noUser = await probe(admin, { url: 'rtsp://10.0.0.5/good', password: PASSWORD });
    assert.equal(noUser.status, 400);
    assert.equal((noUser.body.error as { code: string }).code, 'BAD_URL');
    assert.equal((await probe(admin, { url: 'rtsp://10.0.0.5/good', timeoutMs: 60_000 })).status, 400);
    assert.equal((await admin.postJson('/api/nodes/nobody/probe', body)).status, 404);
  });

  it('answers a node’s refusal with 422 and its code, without the password', async () => {
    const res = await probe(admin, {
      url: `rtsp://admin:${ENCODED}@10.0.0.5/wrong`,
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    const error = res.body.error as { code: string; message: string };
    assert.equal(error.code, 'AUTH_FAILED');
    assert.match(
      error.message,
      /refused the user name or password \(rtsp:\/\/admin:\*\*\*@10\.0\.0\.5\/wrong\)/,
    );
    assert.equal(typeof res.body.reqId, 'string');

    const junk = await probe(admin, { url: 'rtsp://admin@10.0.0.5/junk', password: PASSWORD });
    assert.equal(junk.status, 502, 'a result that fails its schema is not passed on');
  });

  it('answers 504 when the node does not reply in time', async () => {
    const t0 = Date.now();
    const res = await probe(admin, {
      url: 'rtsp://admin@10.0.0.5/mute',
      password: PASSWORD,
      timeoutMs: 1000,
    });
    assert.equal(res.status, 504);
    assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
    const audit = await admin.getJson<AuditPage>('/api/audit?action=camera_probe&user=admin');
    assert.deepEqual(audit.entries[0]?.detail, {
      url: 'rtsp://admin:***@10.0.0.5/mute',
      ok: false,
      error: 'COMMAND_TIMEOUT',
    });
  });

  it('probes a saved camera with its saved password, sent only to its own host and port', async () => {
    const saved = await admin.postJson('/api/config/cameras', {
      id: 'probe-a-cam2',
      nodeId: NODE,
      name: 'Saved',
      url: `rtsp://admin:${ENCODED}@10.0.0.5:554/good`,
    });
    assert.equal(saved.status, 201, await saved.text());
    const before = node.received.length;
    const ok = await probe(admin, { url: 'rtsp://admin@10.0.0.5:554/good', cameraId: 'probe-a-cam2' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok((node.received.at(-1) ?? '').includes(`rtsp://admin:${ENCODED}@10.0.0.5:554/good`));

    // Another host, another port, another scheme: the saved password is not sent there.
    for (const url of [
      'rtsp://admin@attacker.test:554/good',
      'rtsp://admin@10.0.0.5:8554/good',
      'rtsps://admin@10.0.0.5:554/good',
    ]) {
      const elsewhere = await probe(admin, { url, cameraId: 'probe-a-cam2' });
      assert.equal(elsewhere.status, 400, url);
      assert.match(JSON.stringify(elsewhere.body), /only to its own host and port/);
    }
    assert.equal(node.received.length, before + 1, 'only the first probe reached the node');

    // An operator limited to the camera may probe it, not another one.
    const granted = await admin.fetch('/api/users', { method: 'GET' }).then((r) => r.json());
    const opSome = (granted as { id: string; username: string }[]).find((u) => u.username === 'op-some');
    const patch = await admin.fetch(`/api/users/${opSome?.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cameras: ['probe-a-cam', 'probe-a-cam2'] }),
    });
    assert.equal(patch.status, 200);
    const op = await signIn(h.api(''), 'op-some', 'probe-secret-31');
    assert.equal(
      (await probe(op, { url: 'rtsp://admin@10.0.0.5:554/good', cameraId: 'probe-a-cam2' })).status,
      200,
    );
    assert.equal(
      (await probe(op, { url: 'rtsp://admin@10.0.0.5:554/good', cameraId: 'other-cam' })).status,
      403,
    );
  });

  it('keeps the password out of the audit log, the master’s log and every answer', async () => {
    const audit = await admin.fetch('/api/audit?action=camera_probe&limit=500');
    const everything = [await audit.text(), ...answers, ...logLines].join('\n');
    assert.ok(logLines.length > 0, 'the master logged');
    for (const form of [PASSWORD, ENCODED, 'Cam-p%40ss'])
      assert.ok(!everything.includes(form), `"${form}" leaked`);
  });
});
