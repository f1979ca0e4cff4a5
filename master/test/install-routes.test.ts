/**
 * The one-line install's routes on a real master and database (docs/adr/0016): only admins get
 * install lines; a token works once and until it expires; an altered one is unknown; the public
 * routes serve the CA the line pins and the release it names; enrolment issues a credential the
 * node's status route accepts; neither the audit log nor the token table holds the token; an
 * address that keeps sending bad tokens is held back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  type InstallCheckAnswer,
  type InstallEnrolment,
  type InstallTokenAnswer,
  masterPaths,
} from '@cctv/protocol';
import { tempDir, waitFor } from '../../test/support/index.ts';
import { type ApiSession, signIn } from '../../test/support/session.ts';
import { testTls } from '../../test/support/tls.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const tokenOf = (line: string) => /CCTV_INSTALL_TOKEN='([^']+)'/.exec(line)?.[1] ?? '';
const RELEASE = 'cctv-agent-1.2.3-linux-x64.tar.gz';
const RELEASE_BYTES = Buffer.from('not really a tarball');
/** The body of the check (which names the host's architecture) or of the enrolment. */
const bodyFor = (path: string, token: string) =>
  path === '/install/check' ? { token, arch: 'x64' } : { token };

describe('one-line install routes', () => {
  let h: EventHarness;
  let operator: ApiSession;

  /** A public request (no session), JSON in and out. */
  const post = async (path: string, body: unknown) => {
    const res = await fetch(h.api(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const code = (r: { json: Record<string, unknown> }) => (r.json.error as { code: string } | undefined)?.code;
  const askLine = async (nodeId: string, body: unknown = {}) => {
    const res = await h.session.postJson(masterPaths.nodeInstallToken({ id: nodeId }), body);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as InstallTokenAnswer;
  };

  before(async () => {
    const releases = await tempDir();
    await mkdir(releases, { recursive: true });
    await writeFile(join(releases, RELEASE), RELEASE_BYTES);
    await writeFile(join(releases, `${RELEASE}.sha256`), `${sha256(RELEASE_BYTES)}  ${RELEASE}\n`);
    // An older one, and one without its sum (never offered).
    await writeFile(join(releases, 'cctv-agent-1.2.0-linux-x64.tar.gz'), 'old');
    await writeFile(join(releases, 'cctv-agent-1.2.0-linux-x64.tar.gz.sha256'), `${sha256('old')}  x\n`);
    await writeFile(join(releases, 'cctv-agent-9.9.9-linux-x64.tar.gz'), 'no sum');
    h = await startEventHarness('http://gw.test:8090', {
      env: {
        MASTER_RELEASE_DIR: releases,
        MASTER_CA_CERT: testTls().caFile,
        MASTER_PUBLIC_URL: 'https://master.test:8080',
        MASTER_NODE_MQTT_URL: 'mqtts://master.test:8883',
        MASTER_NODE_GATEWAY_URL: 'https://gw.test:8090',
      },
    });
    const created = await h.session.postJson('/api/users', {
      username: 'op1',
      password: 'operator-pw-123456',
      role: 'operator',
      cameras: 'all',
    });
    assert.equal(created.status, 201, await created.clone().text());
    operator = await signIn(h.api(''), 'op1', 'operator-pw-123456');
  });

  it('gives install lines to admins only, for 5 to 1440 minutes', async () => {
    const path = masterPaths.nodeInstallToken({ id: 'inst-a' });
    assert.equal((await operator.postJson(path, {})).status, 403);
    const anonymous = await fetch(h.api(path), { method: 'POST' });
    assert.equal(anonymous.status, 401);
    for (const ttlMinutes of [4, 1441, 2.5])
      assert.equal((await h.session.postJson(path, { ttlMinutes })).status, 400, String(ttlMinutes));
    assert.equal((await h.session.postJson(masterPaths.nodeInstallToken({ id: 'Bad_Id' }), {})).status, 400);

    const before = Date.now();
    const answer = await askLine('inst-a');
    const ttl = Date.parse(answer.expiresAt) - before;
    assert.ok(ttl > 29 * 60_000 && ttl <= 30 * 60_000 + 5000, `30 minutes by default: ${answer.expiresAt}`);
    const long = await askLine('inst-a', { ttlMinutes: 1440 });
    assert.ok(Date.parse(long.expiresAt) - before > 1439 * 60_000);
    // The line pins the CA the master serves, and names the master's public URL.
    const ca = await readFile(testTls().caFile);
    assert.equal(answer.caSha256, sha256(ca));
    assert.ok(answer.line.includes(`echo "${sha256(ca)}  $d/ca.pem" | sha256sum -c`), answer.line);
    assert.ok(answer.line.includes("'https://master.test:8080/install/agent.sh'"), answer.line);
    assert.ok(!answer.line.includes('\n'));
    const served = await fetch(h.api('/install/ca.pem'));
    assert.equal(served.status, 200);
    assert.equal(sha256(Buffer.from(await served.arrayBuffer())), answer.caSha256);
    const script = await fetch(h.api('/install/agent.sh'));
    assert.equal(script.status, 200);
    assert.match(await script.text(), /^#!\/bin\/sh\n/);
  });

  it('checks a token without using it, uses it once, and never keeps or logs it', async () => {
    const answer = await askLine('inst-b', { ttlMinutes: 5 });
    const token = tokenOf(answer.line);
    assert.equal(token.length, 43);

    const check = await post('/install/check', { token, arch: 'x64' });
    assert.equal(check.status, 200, JSON.stringify(check.json));
    const checked = check.json as unknown as InstallCheckAnswer;
    assert.equal(checked.nodeId, 'inst-b');
    // The newest release with its sum; the one without a sum is not offered.
    assert.deepEqual(checked.release, { version: '1.2.3', file: RELEASE, sha256: sha256(RELEASE_BYTES) });
    // Checked twice: still unused.
    assert.equal((await post('/install/check', { token, arch: 'x64' })).status, 200);
    const noArm = await post('/install/check', { token, arch: 'arm64' });
    assert.deepEqual([noArm.status, code(noArm)], [404, 'NO_RELEASE']);

    const tarball = await fetch(h.api(`/install/releases/x64?version=${checked.release.version}`));
    assert.equal(tarball.status, 200);
    assert.deepEqual(Buffer.from(await tarball.arrayBuffer()), RELEASE_BYTES);
    const sum = await fetch(h.api('/install/releases/x64/sha256'));
    assert.equal(await sum.text(), `${sha256(RELEASE_BYTES)}  ${RELEASE}\n`);
    assert.equal((await fetch(h.api('/install/releases/x64?version=9.9.9'))).status, 404);
    assert.equal((await fetch(h.api('/install/releases/mips'))).status, 400);

    // Two enrolments race with the one token: one wins.
    const [a, b] = await Promise.all([
      post('/install/enrol', { token, hostname: 'cam-b' }),
      post('/install/enrol', { token, hostname: 'cam-b' }),
    ]);
    const won = [a, b].filter((r) => r.status === 201);
    const lost = [a, b].filter((r) => r.status === 403);
    assert.equal(won.length, 1, JSON.stringify([a, b]));
    assert.equal(code(lost[0] ?? { json: {} }), 'TOKEN_USED');
    const enrolment = won[0]?.json as unknown as InstallEnrolment;
    assert.equal(enrolment.nodeId, 'inst-b');
    assert.equal(enrolment.username, 'inst-b');
    assert.equal(enrolment.mqttUrl, 'mqtts://master.test:8883');
    assert.equal(enrolment.gatewayUrl, 'https://gw.test:8090');
    assert.equal(enrolment.ca, await readFile(testTls().caFile, 'utf8'));
    assert.ok(enrolment.password.length >= 40 && enrolment.uploadToken.length >= 40);

    // Used: refused at the check and at enrolment, saying so.
    for (const path of ['/install/check', '/install/enrol']) {
      const again = await post(path, bodyFor(path, token));
      assert.deepEqual([again.status, code(again)], [403, 'TOKEN_USED'], path);
      assert.match((again.json.error as { message: string }).message, /already used .*new install line/);
    }

    // A used token sent again raises a security alert: the line may have leaked.
    await waitFor(
      'install_token_reused alert',
      async () =>
        (await h.db.securityAlert.count({ where: { kind: 'install_token_reused', nodeId: 'inst-b' } })) > 0,
    );

    // The node's status, with its upload token only.
    const status = (bearer: string) =>
      fetch(h.api('/install/nodes/inst-b/status'), { headers: { authorization: `Bearer ${bearer}` } });
    const ok = await status(enrolment.uploadToken);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { nodeId: 'inst-b', state: 'unknown', agentVersion: null });
    assert.equal((await status(enrolment.password)).status, 401);
    assert.equal((await fetch(h.api('/install/nodes/inst-b/status'))).status, 401);

    // Stored as its sha256; the audit rows name the token's row, never the token.
    const rows = await h.db.enrolmentToken.findMany({ where: { nodeId: 'inst-b' } });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.tokenHash, sha256(token));
    assert.ok(rows[0]?.usedAt);
    assert.equal(rows[0]?.createdBy, 'admin');
    assert.ok(!JSON.stringify(rows).includes(token));
    const audit = await h.db.auditEntry.findMany({ where: { nodeId: 'inst-b' }, orderBy: { id: 'asc' } });
    assert.deepEqual(
      audit.map((r) => r.action),
      ['node_enrol_token', 'node_install'],
    );
    assert.deepEqual(audit[1]?.detail, { tokenId: rows[0]?.id, hostname: 'cam-b', rotated: false });
    assert.ok(!JSON.stringify(audit, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(token));
  });

  it('refuses an expired and an altered token', async () => {
    const token = tokenOf((await askLine('inst-c', { ttlMinutes: 5 })).line);
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const path of ['/install/check', '/install/enrol']) {
      const r = await post(path, bodyFor(path, altered));
      assert.deepEqual([r.status, code(r)], [403, 'TOKEN_UNKNOWN'], path);
    }
    await h.db.enrolmentToken.updateMany({
      where: { tokenHash: sha256(token) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    for (const path of ['/install/check', '/install/enrol']) {
      const r = await post(path, bodyFor(path, token));
      assert.deepEqual([r.status, code(r)], [403, 'TOKEN_EXPIRED'], path);
      assert.match((r.json.error as { message: string }).message, /expired at /);
    }
    // Not used by the refusals, and no credential issued.
    const row = await h.db.enrolmentToken.findUnique({ where: { tokenHash: sha256(token) } });
    assert.equal(row?.usedAt, null);
    assert.equal(await h.db.nodeCredential.count({ where: { nodeId: 'inst-c' } }), 0);
    assert.ok((await h.metric('cctv_install_tokens_refused_total{reason="expired"}')) >= 2);
    assert.ok((await h.metric('cctv_install_tokens_refused_total{reason="unknown"}')) >= 2);
  });

  it('holds back an address that keeps sending bad tokens', async () => {
    const token = tokenOf((await askLine('inst-d')).line);
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i += 1)
      status = (await post('/install/check', { token: `guess-${i}`, arch: 'x64' })).status;
    assert.equal(status, 429);
    // Even a good token waits now.
    const held = await fetch(h.api('/install/check'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, arch: 'x64' }),
    });
    assert.equal(held.status, 429);
    assert.ok(Number(held.headers.get('retry-after')) > 0);
  });
});
