import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  type AuditPage,
  type CameraView,
  type EventPage,
  type EventView,
  type ExportJobView,
  type FleetSocketMessage,
  grantOf,
  type LiveViewGrant,
  type NodeView,
  type PlaybackGrant,
  type UserView,
} from '@cctv/protocol';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import type { WebSocket } from 'ws';
import { onCleanup, repoRoot, startTestDatabase, waitFor } from '../../test/support/index.ts';
import { type ApiSession, signIn, testMasterEnv } from '../../test/support/session.ts';
import { loadConfig } from '../src/config.ts';
import { startMaster } from '../src/master.ts';
import { type EventHarness, event, startEventHarness } from './event-harness.ts';

const run = promisify(execFile);
const VIEWER_PASSWORD = 'viewer-secret-pass-7';

/** Collects the messages of a dashboard socket from its opening. */
function listen(ws: WebSocket): FleetSocketMessage[] {
  const got: FleetSocketMessage[] = [];
  ws.on('message', (d) => got.push(JSON.parse(d.toString()) as FleetSocketMessage));
  return got;
}

describe('users, sessions, camera access and the audit log', () => {
  let h: EventHarness;
  let base: string;
  let admin: ApiSession;
  let viewer: ApiSession;
  let viewerId: string;

  before(async () => {
    h = await startEventHarness('http://gw.test:8090');
    base = h.api('');
    admin = h.session;
    // Two nodes with a camera each; the viewer is allowed only the first.
    for (const n of ['ua', 'ub'])
      await h.db.node.create({
        data: {
          id: n,
          state: 'online',
          cameras: { create: { id: `${n}-cam`, name: n, state: 'recording' } },
        },
      });
    const created = await admin.postJson('/api/users', {
      username: 'Guard.One',
      password: VIEWER_PASSWORD,
      role: 'viewer',
      cameras: ['ua-cam'],
    });
    assert.equal(created.status, 201, await created.clone().text());
    viewerId = ((await created.json()) as UserView).id;
    viewer = await signIn(base, 'guard.one', VIEWER_PASSWORD);
  });

  it('refuses the API and the websocket without a valid session, and counts it', async () => {
    for (const path of ['/api/nodes', '/api/cameras', '/api/events', '/api/auth/me', '/api/users'])
      assert.equal((await fetch(`${base}${path}`)).status, 401, path);
    const forged = await fetch(`${base}/api/nodes`, {
      headers: { cookie: 'cctv_session=eyJhbGciOiJub25lIn0.e30.' },
    });
    assert.equal(forged.status, 401);
    const bearer = await fetch(`${base}/api/nodes`, { headers: { authorization: 'Bearer nonsense' } });
    assert.equal(bearer.status, 401);
    // The websocket upgrade is refused before it happens.
    const ws = new (await import('ws')).WebSocket(`${base.replace('http', 'ws')}/ws`);
    const refused = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    assert.equal(refused, 401);
    assert.ok((await h.metric('cctv_http_refused_total{reason="invalid_session"}')) >= 2);
    assert.ok((await h.metric('cctv_http_refused_total{reason="no_session"}')) >= 5);
    // Health and metrics stay open for probes.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('sets an httpOnly, SameSite=Strict session cookie and answers who is signed in', async () => {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'guard.one', password: VIEWER_PASSWORD }),
    });
    assert.equal(res.status, 200);
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^cctv_session=[\w-]+\.[\w-]+\.[\w-]+; /);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.token, undefined, 'the token never appears in a body');
    const me = await viewer.getJson<{ username: string; role: string; cameras: string[] }>('/api/auth/me');
    assert.deepEqual(me, {
      id: viewerId,
      username: 'guard.one',
      role: 'viewer',
      cameras: ['ua-cam'],
      totpEnabled: false,
      totpEnrolmentRequired: false,
    });
    // The stored hash is memory-hard scrypt, never the password.
    const row = await h.db.user.findUniqueOrThrow({ where: { username: 'guard.one' } });
    assert.match(row.passwordHash, /^scrypt\$65536\$8\$2\$/);
    assert.ok(!row.passwordHash.includes(VIEWER_PASSWORD));
  });

  it('shows a viewer only the cameras of its list, over the API and the websocket', async () => {
    const nodes = await viewer.getJson<NodeView[]>('/api/nodes');
    assert.deepEqual(
      nodes.map((n) => [n.id, n.cameras.map((c) => c.id)]),
      [['ua', ['ua-cam']]],
    );
    assert.deepEqual(
      (await viewer.getJson<CameraView[]>('/api/cameras')).map((c) => c.id),
      ['ua-cam'],
    );
    assert.equal((await viewer.fetch('/api/nodes/ub')).status, 404);
    assert.equal((await viewer.fetch('/api/nodes/ub/history')).status, 404);
    assert.equal((await admin.getJson<NodeView[]>('/api/nodes')).length, 2);

    const ws = viewer.socket();
    const got = listen(ws);
    onCleanup(() => ws.close());
    const snapshot = await waitFor('viewer snapshot', () => got.find((m) => m.type === 'snapshot'));
    assert.deepEqual(snapshot.type === 'snapshot' && snapshot.nodes.map((n) => n.id), ['ua']);

    const own = randomUUID();
    const foreign = randomUUID();
    await h.publish('ub', [event({ id: foreign, cameraId: 'ub-cam' })]);
    await h.publish('ua', [event({ id: own, cameraId: 'ua-cam' })]);
    await waitFor('own event pushed', () => got.find((m) => m.type === 'event' && m.event.id === own));
    await waitFor('foreign event stored', async () => (await admin.fetch(`/api/events/${foreign}`)).ok);
    assert.ok(!got.some((m) => m.type === 'event' && m.event.id === foreign), 'no foreign event pushed');

    const page = await viewer.getJson<EventPage>('/api/events');
    assert.deepEqual(
      page.events.map((e: EventView) => e.cameraId),
      ['ua-cam'],
    );
    assert.equal((await viewer.fetch(`/api/events/${foreign}`)).status, 404);
    assert.equal((await viewer.fetch(`/api/events/${own}`)).status, 200);
    assert.equal((await viewer.fetch('/api/events?cameras=ub-cam')).status, 403);
    assert.equal((await viewer.fetch('/api/events?cameras=ua-cam,ub-cam')).status, 403);
    const range = 'from=2026-02-01T00:00:00Z&to=2026-02-02T00:00:00Z';
    assert.equal((await viewer.fetch(`/api/cameras/ub-cam/timeline?${range}`)).status, 403);
    assert.equal((await viewer.fetch(`/api/cameras/ua-cam/timeline?${range}`)).status, 200);
    const play = { from: '2026-02-01T10:00:00Z', to: '2026-02-01T10:05:00Z' };
    assert.equal((await viewer.postJson('/api/cameras/ub-cam/playback', play)).status, 403);
    assert.equal((await viewer.postJson('/api/cameras/ub-cam/live', {})).status, 403);
    assert.ok((await h.metric('cctv_http_refused_total{reason="camera"}')) >= 5);
    // Admin-only routes.
    assert.equal((await viewer.fetch('/api/users')).status, 403);
    assert.equal((await viewer.fetch('/api/audit')).status, 403);
    assert.equal((await viewer.postJson('/api/users', {})).status, 403);
  });

  it('grants playback and live views of allowed cameras and audits each', async () => {
    const res = await viewer.postJson('/api/cameras/ua-cam/playback', {
      from: '2026-02-01T10:00:00Z',
      to: '2026-02-01T10:05:00Z',
    });
    assert.equal(res.status, 200);
    const grant = (await res.json()) as PlaybackGrant;
    // The URLs carry a grant for this user, camera and range, good for the grant's life.
    const token = grantOf(grant.playlistUrl) ?? '';
    assert.equal(grant.playlistUrl, `http://gw.test:8090/v1/g/${token}/vod/ua-cam.m3u8`);
    assert.equal(grant.h264PlaylistUrl, `http://gw.test:8090/v1/g/${token}/vod/ua-cam/h264.m3u8`);
    const claims = decodeJwt(token);
    const me = await viewer.getJson<{ id: string }>('/api/auth/me');
    assert.deepEqual(
      { sub: claims.sub, cam: claims.cam, scp: claims.scp, rng: claims.rng },
      {
        sub: me.id,
        cam: 'ua-cam',
        scp: 'vod',
        rng: [Date.parse('2026-02-01T10:00:00Z'), Date.parse('2026-02-01T10:05:00Z')],
      },
    );
    assert.equal(grant.expiresAt, new Date((claims.exp ?? 0) * 1000).toISOString());
    assert.ok(Math.abs(Date.parse(grant.expiresAt) - Date.now() - 600_000) < 10_000, grant.expiresAt);
    const bad = await viewer.postJson('/api/cameras/ua-cam/playback', {
      from: '2026-02-01T10:00:00Z',
      to: '2026-02-03T10:00:00Z',
    });
    assert.equal(bad.status, 400);
    const live = await viewer.postJson('/api/cameras/ua-cam/live', {});
    assert.equal(live.status, 200);
    const liveGrant = (await live.json()) as LiveViewGrant;
    const liveClaims = decodeJwt(grantOf(liveGrant.hlsUrl) ?? '');
    assert.equal(liveClaims.scp, 'live');
    assert.equal(liveClaims.cam, 'ua-cam');
    assert.equal((await viewer.postJson('/api/cameras/zz-none/live', {})).status, 403);
    assert.equal((await admin.postJson('/api/cameras/zz-none/live', {})).status, 404);

    const audit = await admin.getJson<AuditPage>('/api/audit?user=guard.one');
    const actions = audit.entries.map((e) => `${e.action}:${e.cameraId ?? ''}`);
    assert.ok(actions.includes('playback:ua-cam'), actions.join(' '));
    assert.ok(actions.includes('live_view:ua-cam'), actions.join(' '));
    assert.ok(actions.includes('login:'), actions.join(' '));
    const playback = audit.entries.find((e) => e.action === 'playback');
    assert.deepEqual(playback?.detail, { from: '2026-02-01T10:00:00.000Z', to: '2026-02-01T10:05:00.000Z' });
    assert.equal(playback?.nodeId, 'ua');
    const created = await admin.getJson<AuditPage>('/api/audit?action=user_create');
    assert.equal(created.entries[0]?.username, 'admin');
    assert.deepEqual(created.entries.map((e) => (e.detail as { user: string }).user).sort(), [
      'admin',
      'guard.one',
    ]);
  });

  it('keeps exports to operators of the camera, and reports a failed export with its reason', async () => {
    const range = { from: '2026-02-01T10:00:00Z', to: '2026-02-01T10:05:00Z' };
    const refused = await viewer.postJson('/api/exports', { cameraId: 'ua-cam', ...range });
    assert.equal(refused.status, 403, 'viewers do not export');
    const op = await admin.postJson('/api/users', {
      username: 'op.export',
      password: 'operator-secret-55',
      role: 'operator',
      cameras: ['ua-cam'],
    });
    assert.equal(op.status, 201);
    const operator = await signIn(base, 'op.export', 'operator-secret-55');
    assert.equal((await operator.postJson('/api/exports', { cameraId: 'ub-cam', ...range })).status, 403);
    const long = { from: '2026-02-01T10:00:00Z', to: '2026-02-01T11:00:01Z' };
    assert.equal((await operator.postJson('/api/exports', { cameraId: 'ua-cam', ...long })).status, 400);
    const asked = await operator.postJson('/api/exports', { cameraId: 'ua-cam', ...range });
    assert.equal(asked.status, 202);
    const job = (await asked.json()) as ExportJobView;
    assert.equal(job.downloadUrl, null);
    // The gateway of this harness does not exist: the job fails and says why.
    const failed = await waitFor(
      'export failed',
      async () => {
        const j = await operator.getJson<ExportJobView>(`/api/exports/${job.id}`);
        return j.state === 'failed' ? j : null;
      },
      20_000,
      100,
    );
    assert.ok(failed.error && failed.error.length > 0);
    assert.equal((await operator.fetch(`/api/exports/${job.id}/file`)).status, 409);
    assert.equal((await viewer.fetch(`/api/exports/${job.id}`)).status, 404, 'not the viewer’s export');
    assert.equal((await admin.fetch(`/api/exports/${job.id}`)).status, 200, 'admins see every export');
    assert.deepEqual(
      (await operator.getJson<ExportJobView[]>('/api/exports')).map((j) => j.id),
      [job.id],
    );
    assert.equal(job.keepVisible, null);
    const audit = await admin.getJson<AuditPage>('/api/audit?action=export&user=op.export');
    assert.deepEqual(audit.entries[0]?.detail, {
      jobId: job.id,
      from: '2026-02-01T10:00:00.000Z',
      to: '2026-02-01T10:05:00.000Z',
      blurFaces: false,
      blurMotion: false,
      keepVisible: 0,
    });
    assert.equal(await h.metric('cctv_exports_total{state="failed"}'), 1);
    // A visible area is polygons of 0..1 points: anything else is refused before a job exists.
    for (const keepVisible of [
      [],
      [
        [
          [0, 0],
          [2, 0],
          [0, 1],
        ],
      ],
      [
        [
          [0, 0],
          [1, 0],
        ],
      ],
      'left',
    ])
      assert.equal(
        (await operator.postJson('/api/exports', { cameraId: 'ua-cam', ...range, keepVisible })).status,
        400,
        JSON.stringify(keepVisible),
      );
    const area = [
      [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
      ],
    ];
    const kept = await operator.postJson('/api/exports', { cameraId: 'ua-cam', ...range, keepVisible: area });
    assert.equal(kept.status, 202);
    const keptJob = (await kept.json()) as ExportJobView;
    assert.deepEqual(keptJob.keepVisible, area);
    assert.deepEqual((await operator.getJson<ExportJobView>(`/api/exports/${keptJob.id}`)).keepVisible, area);
  });

  it('slows failed sign-ins per username with short growing delays, audits them, and keeps others signing in', async () => {
    const login = (username: string, password: string) =>
      fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
    await admin.postJson('/api/users', {
      username: 'target',
      password: 'watch-secret-pass-9',
      role: 'viewer',
      cameras: [],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login('target', `wrong-${i}-password`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    const limited = await login('target', 'watch-secret-pass-9');
    assert.equal(limited.status, 429, 'right after the guesses, even the right password waits');
    const wait = Number(limited.headers.get('retry-after'));
    assert.ok(wait > 0 && wait <= 2, `a few seconds at most, not a lock: ${wait}`);
    await new Promise((r) => setTimeout(r, wait * 1000));
    assert.equal(
      (await login('target', 'watch-secret-pass-9')).status,
      200,
      'then the right password gets in',
    );
    assert.equal((await login('nobody-here', 'whatever-password')).status, 401);
    assert.equal((await login('guard.one', VIEWER_PASSWORD)).status, 200, 'other users are not held back');
    assert.equal((await login('x', 'y'.repeat(300))).status, 400, 'oversized input is refused');

    const failed = await admin.getJson<AuditPage>('/api/audit?action=login_failed&user=target');
    assert.equal(failed.entries.length, 6);
    const limitedEntry = failed.entries[0]?.detail as { reason: string; retryAfterS: number };
    assert.equal(limitedEntry.reason, 'rate_limited');
    assert.ok(limitedEntry.retryAfterS > 0);
    assert.equal((failed.entries[1]?.detail as { reason?: string } | undefined)?.reason, 'wrong_password');
    const unknown = await admin.getJson<AuditPage>('/api/audit?action=login_failed&user=nobody-here');
    assert.equal((unknown.entries[0]?.detail as { reason?: string } | undefined)?.reason, 'unknown_user');
    assert.equal(await h.metric('cctv_logins_total{result="rate_limited"}'), 1);
    assert.ok((await h.metric('cctv_logins_total{result="bad_credentials"}')) >= 6);
  });

  it('ends a user’s sessions and sockets when an admin changes its rights; keeps the last admin', async () => {
    const session = await signIn(base, 'guard.one', VIEWER_PASSWORD);
    const ws = session.socket();
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await waitFor('socket open', () => ws.readyState === ws.OPEN);
    const patched = await admin.fetch(`/api/users/${viewerId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cameras: ['ua-cam', 'ub-cam'] }),
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(((await patched.json()) as UserView).cameras, ['ua-cam', 'ub-cam']);
    assert.equal(await closed, 4001);
    assert.equal((await session.fetch('/api/nodes')).status, 401, 'the old session ended');
    const again = await signIn(base, 'guard.one', VIEWER_PASSWORD);
    assert.equal((await again.getJson<NodeView[]>('/api/nodes')).length, 2);

    const me = await admin.getJson<{ id: string }>('/api/auth/me');
    const demote = await admin.fetch(`/api/users/${me.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer' }),
    });
    assert.equal(demote.status, 409);
    assert.equal(
      (
        await admin.fetch('/api/users/not-a-uuid', {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"disabled":true}',
        })
      ).status,
      400,
    );
    const weak = await admin.postJson('/api/users', {
      username: 'weak',
      password: 'aaaaaaaaaaaa',
      role: 'viewer',
      cameras: [],
    });
    assert.equal(weak.status, 400);
    const taken = await admin.postJson('/api/users', {
      username: 'guard.one',
      password: 'another-secret-77',
      role: 'viewer',
      cameras: [],
    });
    assert.equal(taken.status, 409);

    // Logging out ends the cookie; "everywhere" ends every session of the user.
    const out = await again.fetch('/api/auth/logout?everywhere=true', { method: 'POST' });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await again.fetch('/api/nodes')).status, 401);
    const audit = await admin.getJson<AuditPage>('/api/audit?user=guard.one&action=logout');
    assert.deepEqual(audit.entries[0]?.detail, { everywhere: true });
    const updates = await admin.getJson<AuditPage>('/api/audit?action=user_update');
    assert.deepEqual(updates.entries[0]?.detail, { user: 'guard.one', cameras: ['ua-cam', 'ub-cam'] });
  });

  it('keeps the audit log append-only and pages through it by cursor', async () => {
    // The master's role may not (its grants); the trigger refuses even the owner
    // (test/security/db-roles.test.ts).
    await assert.rejects(
      h.masterDb.auditEntry.updateMany({ data: { username: 'someone-else' } }),
      /permission denied/,
    );
    await assert.rejects(h.masterDb.auditEntry.deleteMany({}), /permission denied/);
    await assert.rejects(h.masterDb.$executeRawUnsafe('TRUNCATE "AuditEntry"'), /permission denied/);
    await assert.rejects(h.db.auditEntry.deleteMany({}), /append-only/);
    const all = await admin.getJson<AuditPage>('/api/audit?limit=500');
    const seen: string[] = [];
    let page = await admin.getJson<AuditPage>('/api/audit?limit=3');
    for (;;) {
      seen.push(...page.entries.map((e) => e.id));
      if (!page.nextCursor) break;
      page = await admin.getJson<AuditPage>(`/api/audit?limit=3&cursor=${page.nextCursor}`);
    }
    // New entries (this test's own reads add none) do not shift pages: same ids, same order.
    assert.deepEqual(
      seen,
      all.entries.map((e) => e.id),
    );
    assert.equal((await admin.fetch('/api/audit?action=nonsense')).status, 400);
    assert.equal((await admin.fetch('/api/audit?cursor=abc')).status, 400);
    assert.equal(
      (await admin.fetch('/api/audit?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z')).status,
      400,
    );
  });
});

describe('the first admin', () => {
  it('is made with a random password shown once, and never again', async () => {
    const db = await startTestDatabase();
    const env = await testMasterEnv(db.url);
    const log = pino({ level: 'silent' });
    const first = await startMaster(loadConfig(env), log);
    try {
      assert.ok(first.firstAdmin);
      assert.equal(first.firstAdmin.username, 'admin');
      assert.ok(first.firstAdmin.password.length >= 20);
      const s = await signIn(`https://127.0.0.1:${first.httpPort}`, 'admin', first.firstAdmin.password);
      assert.equal((await s.getJson<{ role: string }>('/api/auth/me')).role, 'admin');
    } finally {
      await first.stop();
    }
    const second = await startMaster(loadConfig(env), log);
    try {
      assert.equal(second.firstAdmin, null);
      // The CLI manages users beside a running master, with the same rules.
      const cli = (args: string[], password?: string) => {
        const p = run(process.execPath, ['--import', 'tsx', 'master/bin/user.ts', ...args], {
          cwd: repoRoot,
          env: { ...process.env, DATABASE_URL: db.url, CCTV_PASSWORD: password ?? '' },
        });
        // No password on stdin either: an empty stdin makes the CLI generate one.
        p.child.stdin?.end();
        return p;
      };
      const created = await cli(
        ['create', 'Night.Guard', '--role', 'viewer', '--cameras', 'cam-x,cam-y'],
        'night-shift-pass-42',
      );
      assert.match(created.stdout, /created night.guard \(viewer\)/);
      const s = await signIn(`https://127.0.0.1:${second.httpPort}`, 'night.guard', 'night-shift-pass-42');
      assert.deepEqual((await s.getJson<{ cameras: string[] }>('/api/auth/me')).cameras, ['cam-x', 'cam-y']);
      await cli(['update', 'night.guard', '--disable']);
      assert.equal((await s.fetch('/api/auth/me')).status, 401, 'disabling ends the session');
      const listed = await cli(['list']);
      assert.match(listed.stdout, /night\.guard\tviewer\tcam-x,cam-y\tdisabled/);
      const weak = await cli(['create', 'weak.one', '--role', 'viewer'], 'short').catch(
        (e: { code: number; stderr: string }) => e,
      );
      assert.equal((weak as { code: number }).code, 1);
      assert.match((weak as { stderr: string }).stderr, /at least 12 characters/);
      const generated = await cli(['set-password', 'night.guard']);
      assert.match(generated.stdout, /password \(shown only this once\): \S{20,}/);
    } finally {
      await second.stop();
    }
    assert.throws(() => loadConfig({ ...env, MASTER_ADMIN_PASSWORD: 'short' }), /MASTER_ADMIN_PASSWORD/);
  });
});
