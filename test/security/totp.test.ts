/**
 * The second factor (TOTP, RFC 6238) against real masters on one PostgreSQL: enrolment, sign-in
 * with a code (each accepted once) or a recovery code (each once), wrong codes throttled and
 * audited, an admin's reset, disabling one's own, and MASTER_REQUIRE_2FA (a second master on
 * the same database) confining a session to enrolment until the user has a second factor.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AuditPage, SignedInUser, TotpEnabled, TotpSetup, UserView } from '@cctv/protocol';
import { generate } from 'otplib';
import { freePort, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { send } from '../support/raw-http.ts';
import { type ApiSession, signIn, signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The code of `secret` `steps` 30-s steps from now. */
const code = (secret: string, steps = 0) =>
  generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 * steps });
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

async function startMaster(databaseUrl: string, env: Record<string, string> = {}): Promise<string> {
  const [httpPort, mqttPort] = await Promise.all([freePort(), freePort()]);
  const master = startService('master/src/main.ts', {
    DATABASE_URL: databaseUrl,
    MASTER_DATA_DIR: await tempDir(),
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(httpPort),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(mqttPort),
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    ...env,
  });
  const url = `https://127.0.0.1:${httpPort}`;
  await waitFor('master HTTP API', async () => (await fetch(`${url}/healthz`)).ok, 30_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
    },
  );
  return url;
}

/** Sets up and enables TOTP for a signed-in session: its secret and recovery codes. */
async function enrol(s: ApiSession): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await s.postJson('/api/auth/totp/setup', {});
  assert.equal(setup.status, 200, await setup.clone().text());
  const { secret } = (await setup.json()) as TotpSetup;
  const enabled = await s.postJson('/api/auth/totp/enable', { code: await code(secret) });
  assert.equal(enabled.status, 200, await enabled.clone().text());
  return { secret, recoveryCodes: ((await enabled.json()) as TotpEnabled).recoveryCodes };
}

/** A socket upgrade's answer: 101 when it opened, else the refusal's status. */
function upgradeStatus(s: ApiSession, path: '/ws' | '/ws/live'): Promise<number> {
  const ws = s.socket(path);
  return new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => {});
  }).finally(() => ws.terminate());
}

describe('TOTP second factor', () => {
  let masterUrl: string;
  let databaseUrl: string;
  let admin: ApiSession;
  let userId: string;
  const password = 'totp-user-password-1';
  let secret = '';
  let recoveryCodes: string[] = [];

  /** A sign-in of totp.user from a loopback address of its own. */
  const login = (body: Record<string, string>, from = '127.0.0.7') =>
    send(masterUrl, { path: '/api/auth/login', body: { username: 'totp.user', password, ...body }, from });
  /** The same, waiting out the throttle's delays (a few seconds per username at most). */
  const loginWaiting = async (body: Record<string, string>, from = '127.0.0.7') => {
    for (;;) {
      const res = await login(body, from);
      if (res.status !== 429) return res;
      await sleep(Number(res.headers['retry-after']) * 1000);
    }
  };
  const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

  before(async () => {
    databaseUrl = (await startTestDatabase()).url;
    masterUrl = await startMaster(databaseUrl);
    admin = await waitFor('first admin', () => signInAdmin(masterUrl));
    const created = await admin.postJson('/api/users', {
      username: 'totp.user',
      password,
      role: 'viewer',
      cameras: [],
    });
    assert.equal(created.status, 201);
    userId = ((await created.json()) as UserView).id;
  });

  it('sets up a pending secret with its QR code, and enables it with a code of it', async () => {
    const s = await signIn(masterUrl, 'totp.user', password);
    const first = (await (await s.postJson('/api/auth/totp/setup', {})).json()) as TotpSetup;
    const again = await s.postJson('/api/auth/totp/setup', {});
    assert.equal(again.status, 200);
    const setup = (await again.json()) as TotpSetup;
    assert.notEqual(setup.secret, first.secret, 'a new setup replaces the pending secret');
    assert.match(setup.secret, /^[A-Z2-7]{32}$/);
    const url = new URL(setup.otpauthUrl);
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.searchParams.get('secret'), setup.secret);
    assert.match(setup.qrDataUrl, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    // Not active yet: the password alone still signs in.
    assert.equal((await login({})).status, 200);

    const wrong = await s.postJson('/api/auth/totp/enable', { code: await code(setup.secret, 20) });
    assert.equal(wrong.status, 400);
    assert.equal(await errorCode(wrong), 'BAD_TOTP_CODE');
    const old = await s.postJson('/api/auth/totp/enable', { code: await code(first.secret) });
    assert.equal(old.status, 400, 'the replaced secret is gone');
    const bad = await s.postJson('/api/auth/totp/enable', { code: '12345' });
    assert.equal(bad.status, 400, 'not six digits: refused by the schema');

    const enabled = await s.postJson('/api/auth/totp/enable', { code: await code(setup.secret) });
    assert.equal(enabled.status, 200);
    recoveryCodes = ((await enabled.json()) as TotpEnabled).recoveryCodes;
    secret = setup.secret;
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    const me = await s.getJson<SignedInUser>('/api/auth/me');
    assert.equal(me.totpEnabled, true);
    const refused = await s.postJson('/api/auth/totp/setup', {});
    assert.equal(refused.status, 409, 'an enabled secret is never replaced');
    assert.equal(await errorCode(refused), 'TOTP_ALREADY_ENABLED');
    const users = await admin.getJson<UserView[]>('/api/users');
    assert.equal(users.find((u) => u.id === userId)?.totpEnabled, true);
  });

  it('asks for the code after a right password, accepts each code once, each recovery code once', async () => {
    const wrongPassword = await login({ password: 'not-the-password-1' });
    assert.equal(wrongPassword.status, 401);
    assert.equal(codeOf(wrongPassword.body), 'BAD_CREDENTIALS', 'a wrong password says nothing of TOTP');
    const noCode = await login({});
    assert.equal(noCode.status, 401);
    assert.equal(codeOf(noCode.body), 'TOTP_REQUIRED');
    assert.equal(noCode.headers['set-cookie'], undefined, 'no session without the code');

    // The enabling code used up the current step: the next one is the first that works.
    const next = await code(secret, 1);
    const ok = await login({ totp: next });
    assert.equal(ok.status, 200, ok.body);
    assert.match(String(ok.headers['set-cookie']), /cctv_session=[\w-]+\./);
    const replay = await login({ totp: next });
    assert.equal(replay.status, 401, 'the same code again: refused');
    assert.equal(codeOf(replay.body), 'BAD_TOTP_CODE');
    assert.equal((await login({ totp: await code(secret) })).status, 401, 'an earlier step: refused');

    const recovery = recoveryCodes[0] ?? '';
    const byRecovery = await login({ recoveryCode: recovery.toUpperCase() });
    assert.equal(byRecovery.status, 200, byRecovery.body);
    const spent = await login({ recoveryCode: recovery });
    assert.equal(spent.status, 401, 'a recovery code works once');
    assert.equal(codeOf(spent.body), 'BAD_RECOVERY_CODE');

    const logins = await admin.getJson<AuditPage>('/api/audit?action=login&user=totp.user');
    assert.deepEqual(
      logins.entries.slice(0, 2).map((e) => (e.detail as { secondFactor?: string } | null)?.secondFactor),
      ['recovery_code', 'totp'],
    );
  });

  it('throttles and audits wrong codes like wrong passwords', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !statuses.includes(429); i++)
      statuses.push((await login({ totp: String(100000 + i) }, '127.0.0.8')).status);
    assert.equal(statuses.at(-1), 429, `refused for a while after the free attempts: ${statuses}`);
    assert.equal(statuses[0], 401, 'a wrong code is a failed sign-in');
    // Throttled means not checked: the right code is refused too, before the password is.
    const throttled = await login({ totp: await code(secret, 1) }, '127.0.0.9');
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.headers['retry-after']) >= 1);
    const failed = await admin.getJson<AuditPage>('/api/audit?action=login_failed&user=totp.user&limit=50');
    const reasons = failed.entries.map((e) => (e.detail as { reason: string }).reason);
    for (const reason of [
      'wrong_password',
      'wrong_totp',
      'replayed_totp',
      'wrong_recovery_code',
      'rate_limited',
    ])
      assert.ok(reasons.includes(reason), `${reason} audited: ${reasons}`);
    const checked = failed.entries.filter((e) => (e.detail as { reason: string }).reason !== 'rate_limited');
    assert.ok(checked.every((e) => e.userId === userId && e.ip?.startsWith('127.0.0.')));
  });

  it('lets an admin reset the second factor: the password alone signs in again', async () => {
    const s = await loginWaiting({ recoveryCode: recoveryCodes[1] ?? '' }, '127.0.0.10');
    assert.equal(s.status, 200, s.body);
    const cookie = String(s.headers['set-cookie']).split(';')[0] ?? '';
    const bySelf = await fetch(`${masterUrl}/api/users/${userId}/totp`, {
      method: 'DELETE',
      headers: { cookie },
    });
    assert.equal(bySelf.status, 403, 'only admins reset');
    assert.equal(
      (await admin.fetch(`/api/users/${crypto.randomUUID()}/totp`, { method: 'DELETE' })).status,
      404,
    );
    const reset = await admin.fetch(`/api/users/${userId}/totp`, { method: 'DELETE' });
    assert.equal(reset.status, 204);
    const ended = await fetch(`${masterUrl}/api/auth/me`, { headers: { cookie } });
    assert.equal(ended.status, 401, 'the reset ends the user’s sessions');
    const audit = await admin.getJson<AuditPage>('/api/audit?action=totp_reset');
    assert.deepEqual(audit.entries[0]?.detail, { user: 'totp.user' });
    assert.equal(audit.entries[0]?.username, 'admin');
    const plain = await loginWaiting({}, '127.0.0.11');
    assert.equal(plain.status, 200, plain.body);
    assert.equal((JSON.parse(plain.body) as { user: SignedInUser }).user.totpEnabled, false);
    const recovery = await loginWaiting({ recoveryCode: recoveryCodes[2] ?? '' }, '127.0.0.11');
    assert.equal(recovery.status, 200, 'a code of no factor is ignored: the password suffices');
  });

  it('disables one’s own second factor with the password or a code, audited, ending the sessions', async () => {
    const s = await signIn(masterUrl, 'totp.user', password);
    const again = await enrol(s);
    const wrong = await s.postJson('/api/auth/totp/disable', { password: 'not-the-password-1' });
    assert.equal(wrong.status, 403);
    const both = await s.postJson('/api/auth/totp/disable', { password, code: '123456' });
    assert.equal(both.status, 400, 'one proof, not two');
    const badCode = await s.postJson('/api/auth/totp/disable', { code: await code(again.secret, 20) });
    assert.equal(badCode.status, 403);
    assert.equal(await errorCode(badCode), 'BAD_TOTP_CODE');
    const off = await s.postJson('/api/auth/totp/disable', { code: await code(again.secret, 1) });
    assert.equal(off.status, 204);
    assert.equal((await s.fetch('/api/auth/me')).status, 401, 'disabling ended the session');
    const after = await loginWaiting({}, '127.0.0.12');
    assert.equal(after.status, 200, after.body);
    const audit = await admin.getJson<AuditPage>('/api/audit?user=totp.user&limit=20');
    const actions = audit.entries.map((e) => e.action);
    for (const a of ['totp_enable', 'totp_disable', 'totp_disable_failed'] as const)
      assert.ok(actions.includes(a), `${a}: ${actions}`);
  });

  it('MASTER_REQUIRE_2FA=admin: an admin without TOTP may only enrol, then everything', async () => {
    const created = await admin.postJson('/api/users', {
      username: 'fresh.admin',
      password: 'fresh-admin-password-1',
      role: 'admin',
      cameras: 'all',
    });
    assert.equal(created.status, 201);
    // A second master on the same database, with the policy.
    const strict = await startMaster(databaseUrl, { MASTER_REQUIRE_2FA: 'admin' });
    const loginRes = await fetch(`${strict}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'fresh.admin', password: 'fresh-admin-password-1' }),
    });
    assert.equal(loginRes.status, 200);
    assert.equal(((await loginRes.json()) as { user: SignedInUser }).user.totpEnrolmentRequired, true);
    const s = await signIn(strict, 'fresh.admin', 'fresh-admin-password-1');
    const me = await s.getJson<SignedInUser>('/api/auth/me');
    assert.deepEqual([me.totpEnabled, me.totpEnrolmentRequired], [false, true]);
    const refused = [
      await s.fetch('/api/users'),
      await s.fetch('/api/nodes'),
      await s.fetch('/api/audit'),
      await s.fetch('/api/events'),
      await s.postJson('/api/cameras/cam-a/live', {}),
      await s.postJson('/api/cameras/cam-a/playback', {
        from: new Date(Date.now() - 60_000).toISOString(),
        to: new Date().toISOString(),
      }),
      await s.postJson('/api/auth/password', { currentPassword: 'x', newPassword: 'y-password-long-1' }),
      await s.fetch('/api/nope'),
    ];
    for (const res of refused) {
      assert.equal(res.status, 403, res.url);
      assert.equal(await errorCode(res), 'TOTP_ENROLMENT_REQUIRED', res.url);
    }
    assert.equal(await upgradeStatus(s, '/ws'), 403);
    assert.equal(await upgradeStatus(s, '/ws/live'), 403);

    const { secret: adminSecret } = await enrol(s);
    assert.equal((await s.getJson<SignedInUser>('/api/auth/me')).totpEnrolmentRequired, false);
    assert.equal((await s.fetch('/api/users')).status, 200, 'the same session, now enrolled');
    assert.equal(await upgradeStatus(s, '/ws'), 101);
    assert.equal(await upgradeStatus(s, '/ws/live'), 101);
    const keep = await s.postJson('/api/auth/totp/disable', { password: 'fresh-admin-password-1' });
    assert.equal(keep.status, 409, 'a required second factor cannot be disabled');
    assert.equal(await errorCode(keep), 'TOTP_REQUIRED_BY_POLICY');
    // From now on the admin signs in with a code, on either master.
    const noCode = await fetch(`${strict}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'fresh.admin', password: 'fresh-admin-password-1' }),
    });
    assert.equal(await errorCode(noCode), 'TOTP_REQUIRED');
    const withCode = await fetch(`${strict}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'fresh.admin',
        password: 'fresh-admin-password-1',
        totp: await code(adminSecret, 1),
      }),
    });
    assert.equal(withCode.status, 200);
    // The first admin has no second factor either: on the strict master it may only enrol.
    const first = await signIn(strict, 'admin', TEST_ADMIN_PASSWORD);
    assert.equal((await first.fetch('/api/users')).status, 403);
  });
});
