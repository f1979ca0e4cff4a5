/**
 * Alerts against those who must not use them: anonymous clients get nothing, viewers and
 * operators neither rules, channels nor the outbox, a viewer no alert of another camera or any
 * security alert; bad queries and bodies get a 400, never a 500; a channel's secret reaches
 * neither an answer nor the master's log, at any level.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AlertPage } from '@cctv/protocol';
import { type EventHarness, event, startEventHarness } from '../../master/test/event-harness.ts';
import { memoryLogger } from '../support/memory-log.ts';
import { type ApiSession, signIn } from '../support/session.ts';

const SECRET = 'security-test-webhook-secret-42';
const ADMIN_ROUTES: [string, string][] = [
  ['GET', '/api/alert-rules'],
  ['POST', '/api/alert-rules'],
  ['PUT', '/api/alert-rules/node-offline'],
  ['DELETE', '/api/alert-rules/node-offline'],
  ['GET', '/api/alert-channels'],
  ['POST', '/api/alert-channels'],
  ['PUT', '/api/alert-channels/ch-x'],
  ['DELETE', '/api/alert-channels/ch-x'],
  ['POST', '/api/alert-channels/ch-x/test'],
  ['GET', '/api/alert-deliveries'],
  ['POST', '/api/alert-deliveries/1/retry'],
];

describe('alerts: who may use them', () => {
  let h: EventHarness;
  const { logger, lines } = memoryLogger('trace');
  let viewer: ApiSession;
  let operator: ApiSession;

  before(async () => {
    h = await startEventHarness('https://127.0.0.1:9', { log: logger, env: { MASTER_ALERT_EVAL_MS: '300' } });
    const made = await h.session.postJson('/api/alert-channels', {
      name: 'Hook',
      enabled: true,
      kind: 'webhook',
      settings: {
        url: 'http://127.0.0.1:9/hook',
        secret: SECRET,
        headers: { authorization: `Bearer ${SECRET}` },
      },
    });
    assert.equal(made.status, 201);
    for (const [username, role, cameras] of [
      ['viewer.one', 'viewer', ['cam-one']],
      ['operator.one', 'operator', 'all'],
    ] as const) {
      const res = await h.session.postJson('/api/users', {
        username,
        password: 'alerts-security-pw-1',
        role,
        cameras,
      });
      assert.equal(res.status, 201);
    }
    viewer = await signIn(h.api(''), 'viewer.one', 'alerts-security-pw-1');
    operator = await signIn(h.api(''), 'operator.one', 'alerts-security-pw-1');
    await h.publish('node-x', [event({ id: '6f0e4b52-8a0c-4c1e-9a43-0e1f5b0c7d11', cameraId: 'cam-one' })]);
    await h.publish('node-y', [event({ id: '7a1f5c63-9b1d-4d2f-8b54-1f2a6c1d8e22', cameraId: 'cam-two' })]);
  });
  after(() => undefined);

  it('anonymous clients get 401 on every alert route', async () => {
    for (const [method, path] of [
      ...ADMIN_ROUTES,
      ['GET', '/api/alerts'],
      ['POST', '/api/alerts/ack'],
      ['POST', '/api/alerts/1/ack'],
    ] as [string, string][]) {
      const res = await fetch(h.api(path), {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'GET' ? {} : { body: '{}' }),
      });
      assert.equal(res.status, 401, `${method} ${path}`);
    }
  });

  it('viewers and operators get 403 on rules, channels and the outbox', async () => {
    for (const s of [viewer, operator])
      for (const [method, path] of ADMIN_ROUTES) {
        const res = await s.fetch(path, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(method === 'GET' ? {} : { body: '{}' }),
        });
        assert.equal(res.status, 403, `${method} ${path}`);
      }
  });

  it("a viewer sees its camera's alerts only, never a security alert, and acknowledges nothing else", async () => {
    const all = (await h.getJson<AlertPage>('/api/alerts?limit=200')).alerts;
    const other = all.find((a) => a.cameraId === 'cam-two');
    assert.ok(other);
    const mine = (await viewer.getJson<AlertPage>('/api/alerts?limit=200')).alerts;
    assert.ok(mine.length > 0);
    assert.ok(mine.every((a) => a.cameraId === 'cam-one' || (a.cameraId === null && a.nodeId === 'node-x')));
    assert.equal((await viewer.getJson<AlertPage>('/api/alerts?kind=security')).alerts.length, 0);
    assert.equal((await viewer.fetch(`/api/alerts/${other.id}/ack`, { method: 'POST' })).status, 404);
    const ack = await viewer.postJson('/api/alerts/ack', { ids: [other.id] });
    assert.deepEqual(await ack.json(), { acknowledged: 0 });
  });

  it('bad queries and bodies get a 400, not a 500', async () => {
    for (const q of [
      'limit=abc',
      'limit=0',
      'cursor=x',
      'kind=nope',
      'state=closed',
      'node=../x',
      'camera=%00',
      'extra=1',
    ])
      assert.equal((await h.fetch(`/api/alerts?${q}`)).status, 400, q);
    assert.equal((await h.fetch('/api/alerts/123456789012345678901/ack', { method: 'POST' })).status, 400);
    assert.equal((await h.session.postJson('/api/alerts/ack', { ids: ['x'] })).status, 400);
    for (const body of [
      {
        name: 'x'.repeat(101),
        enabled: true,
        severity: 'info',
        channels: [],
        params: { kind: 'nas_down', afterS: 1 },
      },
      { name: 'x', enabled: true, severity: 'loud', channels: [], params: { kind: 'nas_down', afterS: 1 } },
      {
        name: 'x',
        enabled: true,
        severity: 'info',
        channels: ['../x'],
        params: { kind: 'nas_down', afterS: 1 },
      },
      {
        name: 'x',
        enabled: true,
        severity: 'info',
        channels: [],
        params: { kind: 'nas_down', afterS: 1, extra: 1 },
      },
    ])
      assert.equal((await h.session.postJson('/api/alert-rules', body)).status, 400, JSON.stringify(body));
    const credentials = await h.session.postJson('/api/alert-channels', {
      name: 'x',
      enabled: true,
      kind: 'webhook',
      settings: { url: 'https://user:pw@example.test/hook', secret: SECRET },
    });
    assert.equal(credentials.status, 400, 'a URL with credentials');
  });

  it("a channel's secret is in no answer and no log line", async () => {
    const listed = await (await h.fetch('/api/alert-channels')).text();
    assert.ok(!listed.includes(SECRET));
    const audit = await (await h.fetch('/api/audit?limit=500')).text();
    assert.ok(!audit.includes(SECRET));
    assert.ok(lines.length > 0);
    assert.deepEqual(
      lines.filter((l) => l.includes(SECRET)),
      [],
    );
  });
});
