/**
 * The master's HTTP side as an attacker meets it, through the real dashboard server where a
 * browser would come: sessions that end when signed out, default-deny routing on the decoded
 * path, origins, sign-in throttling that a guesser cannot turn against the real user (nor dodge
 * with a forged X-Forwarded-For), throttled and audited password changes, and inputs that once
 * reached a 500.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AuditPage } from '@cctv/protocol';
import { WebSocket } from 'ws';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { waitFor } from '../support/index.ts';
import { cookiesOf, send } from '../support/raw-http.ts';
import { type ApiSession, signIn, TEST_ADMIN_PASSWORD } from '../support/session.ts';
import { type SecurityCluster, startSecurityCluster } from './support/cluster.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP: sessions, default deny, origins, sign-in that cannot be turned against users', () => {
  let c: SecurityCluster;
  let dashboard: string;

  before(async () => {
    ensureDashboardBuild();
    c = await startSecurityCluster();
    dashboard = (await openDashboard(c.masterUrl, c.dashboardPort)).url;
  });

  it('ends a session on the server when it signs out: the copied token no longer works', async () => {
    const s = await signIn(c.masterUrl, 'admin', TEST_ADMIN_PASSWORD);
    assert.equal((await s.fetch('/api/auth/me')).status, 200);
    const token = s.cookie.slice('cctv_session='.length);
    const ws = s.socket();
    const live = s.socket('/ws/live');
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const liveClosed = new Promise<number>((r) => live.on('close', (code) => r(code)));
    await Promise.all([new Promise((r) => ws.once('open', r)), new Promise((r) => live.once('open', r))]);
    assert.equal((await s.fetch('/api/auth/logout', { method: 'POST' })).status, 204);
    assert.equal(await closed, 4001, 'its dashboard socket is closed too');
    assert.equal(await liveClosed, 4001, 'and its live-view socket: it cannot ask for views any more');
    assert.equal((await s.fetch('/api/auth/me')).status, 401);
    const bearer = await fetch(`${c.masterUrl}/api/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(bearer.status, 401);
    assert.equal((await c.admin.fetch('/api/auth/me')).status, 200, 'other sessions go on');
  });

  it('decides on the route fastify matched: encoded, unknown and odd paths reach no handler unauthenticated', async () => {
    const refusedBefore = await c.masterMetric('cctv_http_refused_total', 'reason="no_session"');
    for (const path of [
      '/%61pi/users',
      '/api/users',
      '/api/%75sers',
      '/api/nope',
      '/API/users',
      '/api/users/..%2f..%2fhealthz',
      '/nothing',
    ]) {
      const res = await send(c.masterUrl, { path });
      assert.equal(res.status, 401, path);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'UNAUTHENTICATED', path);
    }
    assert.equal(await c.masterMetric('cctv_http_refused_total', 'reason="no_session"'), refusedBefore + 7);
    // The same decoded path with a session is the same route.
    const users = await send(c.masterUrl, { path: '/%61pi/users', headers: { cookie: c.admin.cookie } });
    assert.equal(users.status, 200);
    assert.equal(
      (await send(c.masterUrl, { path: '/api/nope', headers: { cookie: c.admin.cookie } })).status,
      404,
    );
    // An encoded websocket path is no way around the session either.
    for (const path of ['/w%73', '/ws', '/ws/l%69ve']) {
      const upgrade = await send(c.masterUrl, {
        path,
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      assert.equal(upgrade.status, 401, path);
    }
    // Public on purpose: health, metrics, the sign-in itself.
    assert.equal((await send(c.masterUrl, { path: '/healthz' })).status, 200);
    assert.equal((await send(c.masterUrl, { path: '/metrics' })).status, 200);
  });

  it('refuses changes and websockets from pages of other origins, and reflects no origin', async () => {
    const evil = 'http://evil.example';
    const post = await c.admin.fetch('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: evil },
      body: JSON.stringify({
        username: 'csrf.user',
        password: 'csrf-password-123',
        role: 'admin',
        cameras: 'all',
      }),
    });
    assert.equal(post.status, 403);
    assert.equal(((await post.json()) as { error: { code: string } }).error.code, 'ORIGIN_REFUSED');
    const fromDashboard = await c.admin.fetch('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: dashboardOrigin(c.dashboardPort) },
      body: JSON.stringify({
        username: 'real.user',
        password: 'real-password-123',
        role: 'viewer',
        cameras: [],
      }),
    });
    assert.equal(fromDashboard.status, 201);
    for (const path of ['/ws', '/ws/live']) {
      const ws = new WebSocket(`${c.masterUrl.replace('http', 'ws')}${path}`, {
        headers: { cookie: c.admin.cookie, origin: evil },
      });
      const status = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
      assert.equal(status, 403, path);
      ws.terminate();
    }
    const preflight = await send(c.masterUrl, {
      method: 'OPTIONS',
      path: '/api/users',
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    const allowed = await send(c.masterUrl, {
      method: 'OPTIONS',
      path: '/api/users',
      headers: { origin: dashboardOrigin(c.dashboardPort), 'access-control-request-method': 'POST' },
    });
    assert.equal(allowed.headers['access-control-allow-origin'], dashboardOrigin(c.dashboardPort));
    const read = await send(c.masterUrl, {
      path: '/api/auth/me',
      headers: { cookie: c.admin.cookie, origin: evil },
    });
    assert.equal(read.headers['access-control-allow-origin'], undefined);
    assert.ok((await c.masterMetric('cctv_http_refused_total', 'reason="origin"')) >= 3);
  });

  it('slows a guesser down without locking the real user out, and believes no forged X-Forwarded-For', async () => {
    const login = (password: string, from: string, extra: Record<string, string> = {}) =>
      send(dashboard, {
        path: '/api/auth/login',
        body: { username: 'admin', password },
        from,
        headers: extra,
      });
    // The admin signed in before from this browser: it holds a device cookie.
    const earlier = await login(TEST_ADMIN_PASSWORD, '127.0.0.4');
    assert.equal(earlier.status, 200);
    const device = cookiesOf(earlier)
      .split('; ')
      .find((x) => x.startsWith('cctv_device='));
    assert.ok(device, 'a device cookie is set at sign-in');

    // A guesser from 127.0.0.3, every request with another forged X-Forwarded-For.
    const statuses: number[] = [];
    const waits: number[] = [];
    for (let i = 0; statuses.filter((s) => s === 401).length < 7; i++) {
      const res = await login(`wrong-password-${i}`, '127.0.0.3', {
        'x-forwarded-for': `203.0.113.${i % 250}`,
      });
      statuses.push(res.status);
      if (res.status === 429) {
        const wait = Number(res.headers['retry-after']);
        waits.push(wait);
        await sleep(wait * 1000);
      }
    }
    assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.ok(
      waits.length >= 2 && waits.every((w, i) => i === 0 || w >= (waits[i - 1] ?? 0)),
      `growing: ${waits}`,
    );
    // While throttled, even the right password is not checked (no oracle for the guesser).
    const throttled = await login(TEST_ADMIN_PASSWORD, '127.0.0.3');
    assert.equal(throttled.status, 429);

    // The audit log has the real address, never the forged ones.
    const failed = await c.admin.getJson<AuditPage>('/api/audit?action=login_failed&user=admin&limit=50');
    assert.ok(failed.entries.length >= 7);
    assert.deepEqual([...new Set(failed.entries.map((e) => e.ip))], ['127.0.0.3']);

    // The admin's own browser is judged on its own: in at once.
    const trusted = await login(TEST_ADMIN_PASSWORD, '127.0.0.4', { cookie: device ?? '' });
    assert.equal(trusted.status, 200, trusted.body);
    // From a new place, without that cookie, the right password gets in within seconds.
    const t = Date.now();
    let fresh = await login(TEST_ADMIN_PASSWORD, '127.0.0.2');
    while (fresh.status === 429) {
      await sleep(Number(fresh.headers['retry-after']) * 1000);
      fresh = await login(TEST_ADMIN_PASSWORD, '127.0.0.2');
    }
    assert.equal(fresh.status, 200, fresh.body);
    assert.ok(Date.now() - t <= 10_000, `waited ${Date.now() - t} ms`);
  });

  it('closes a user’s live-view socket when an admin narrows their cameras', async () => {
    const created = await c.admin.postJson('/api/users', {
      username: 'narrowed.viewer',
      password: 'narrowed-viewer-1',
      role: 'viewer',
      cameras: 'all',
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const s = await signIn(c.masterUrl, 'narrowed.viewer', 'narrowed-viewer-1');
    const live = s.socket('/ws/live');
    const closed = new Promise<number>((r) => live.on('close', (code) => r(code)));
    await new Promise((r) => live.once('open', r));
    const patched = await c.admin.fetch(`/api/users/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cameras: [] }),
    });
    assert.equal(patched.status, 200);
    assert.equal(await closed, 4001, 'a socket holding the old access list does not outlive it');
  });

  it('throttles and audits wrong passwords on a password change', async () => {
    const created = await c.admin.postJson('/api/users', {
      username: 'pw.victim',
      password: 'victim-password-12',
      role: 'viewer',
      cameras: [],
    });
    assert.equal(created.status, 201);
    const stolen: ApiSession = await signIn(c.masterUrl, 'pw.victim', 'victim-password-12');
    const change = (current: string) =>
      stolen.postJson('/api/auth/password', { currentPassword: current, newPassword: 'taken-over-pass-99' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await change(`guess-${i}-password`)).status);
    assert.deepEqual(statuses.slice(0, 5), [403, 403, 403, 403, 403]);
    assert.equal(statuses[5], 429);
    const audit = await c.admin.getJson<AuditPage>('/api/audit?action=password_change_failed&user=pw.victim');
    assert.ok(audit.entries.length >= 6);
    assert.deepEqual([...new Set(audit.entries.map((e) => (e.detail as { reason: string }).reason))].sort(), [
      'rate_limited',
      'wrong_password',
    ]);
    // The right password is still the user's own: nothing was changed.
    await signIn(c.masterUrl, 'pw.victim', 'victim-password-12');
  });

  it('answers 400, not 500, to the inputs that once reached a 500', async () => {
    const nul = await fetch(`${c.masterUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'adm\u0000in', password: 'whatever-password' }),
    });
    assert.equal(nul.status, 400);
    const cursor = await c.admin.fetch('/api/audit?cursor=9999999999999999999');
    assert.equal(cursor.status, 400);
    assert.equal(((await cursor.json()) as { error: { code: string } }).error.code, 'BAD_CURSOR');
    await waitFor('master still healthy', async () => (await fetch(`${c.masterUrl}/healthz`)).ok);
  });
});
