/**
 * The admin routes of the dashboard's settings pages against a real master and PostgreSQL:
 * ending a user's sessions, the audit log's node filter and its CSV export, and revoking a
 * node's credential (the broker refuses the node and drops its connection, the gateway's
 * upload check its token). Each is refused to
 * anyone but admins, and audited.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type AuditPage, SEGMENT_HEADERS, type UserView } from '@cctv/protocol';
import mqtt from 'mqtt';
import type { CameraOwners } from '../../storage-gateway/src/auth/camera-owners.ts';
import { prismaTokenSource, UploadAuth } from '../../storage-gateway/src/auth/upload-auth.ts';
import { waitFor } from '../../test/support/index.ts';
import { type ApiSession, signIn } from '../../test/support/session.ts';
import { enrolNode, NodeCredentialRepository } from '../src/auth/node-credentials.ts';
import { type EventHarness, startEventHarness } from './event-harness.ts';

const PASSWORD = 'operator-secret-pass-9';

describe('admin routes: sessions, audit export, node revocation', () => {
  let h: EventHarness;
  let base: string;
  let operator: ApiSession;
  let operatorId: string;

  before(async () => {
    h = await startEventHarness('http://gw.test:8090');
    base = h.api('');
    const created = await h.session.postJson('/api/users', {
      username: 'op.one',
      password: PASSWORD,
      role: 'operator',
      cameras: 'all',
    });
    assert.equal(created.status, 201, await created.clone().text());
    operatorId = ((await created.json()) as UserView).id;
    operator = await signIn(base, 'op.one', PASSWORD);
  });

  const audit = (query: string) => h.getJson<AuditPage>(`/api/audit?${query}`);

  it('documents the new routes', async () => {
    const doc = await h.getJson<{ paths: Record<string, Record<string, unknown>> }>('/api/docs/json');
    assert.ok(doc.paths['/api/users/{id}/sessions/end']?.post);
    assert.ok(doc.paths['/api/audit/export.csv']?.get);
    assert.ok(doc.paths['/api/nodes/{id}/credentials']?.delete);
  });

  it('refuses every admin route to an operator', async () => {
    const calls: [string, RequestInit][] = [
      [`/api/users/${operatorId}/sessions/end`, { method: 'POST' }],
      ['/api/audit/export.csv', {}],
      ['/api/audit?node=n1', {}],
      ['/api/nodes/n1/credentials', { method: 'DELETE' }],
    ];
    for (const [path, init] of calls) {
      const res = await operator.fetch(path, init);
      assert.equal(res.status, 403, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN', path);
    }
  });

  it("ends a user's sessions: their cookie stops working, audited as user_sessions_end", async () => {
    const other = await signIn(base, 'op.one', PASSWORD);
    assert.equal((await other.fetch('/api/auth/me')).status, 200);
    const ended = await h.fetch(`/api/users/${operatorId}/sessions/end`, { method: 'POST' });
    assert.equal(ended.status, 204);
    assert.equal((await other.fetch('/api/auth/me')).status, 401);
    assert.equal((await operator.fetch('/api/auth/me')).status, 401);
    const unknown = await h.fetch('/api/users/00000000-0000-4000-8000-000000000000/sessions/end', {
      method: 'POST',
    });
    assert.equal(unknown.status, 404);
    const page = await audit('action=user_sessions_end');
    assert.equal(page.entries.length, 1);
    assert.deepEqual(page.entries[0]?.detail, { user: 'op.one' });
    assert.equal(page.entries[0]?.username, 'admin');
    operator = await signIn(base, 'op.one', PASSWORD);
  });

  it('exports the filtered audit log as CSV and audits the export', async () => {
    await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'op.one', password: 'not-the-password' }),
    });
    const res = await h.fetch('/api/audit/export.csv?user=op.one');
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="audit-/);
    const lines = (await res.text()).split('\r\n');
    assert.equal(lines[0], 'id,at,username,action,cameraId,nodeId,ip,detail');
    assert.equal(lines.at(-1), '', 'every line ends with CRLF');
    const rows = lines.slice(1, -1);
    assert.ok(rows.length >= 2);
    assert.ok(
      rows.every((r) => r.split(',')[2] === 'op.one'),
      'only the filtered user',
    );
    assert.ok(rows.some((r) => r.includes(',login_failed,')));
    assert.ok(rows.some((r) => r.includes(',login,')));
    // Newest first, as the API pages are.
    const ids = rows.map((r) => BigInt(r.split(',')[0] ?? '0'));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)),
    );

    const all = await (await h.fetch('/api/audit/export.csv')).text();
    assert.ok(all.split('\r\n').length > rows.length + 2, 'without filters, every entry');
    const exports = await audit('action=audit_export');
    assert.equal(exports.entries.length, 2);
    assert.deepEqual(exports.entries[1]?.detail, { filter: { user: 'op.one' } });
    const bad = await h.fetch('/api/audit/export.csv?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z');
    assert.equal(bad.status, 400);
  });

  it("revokes a node's credential: the broker drops and then refuses it, audited as node_revoke", async () => {
    const enrolment = await enrolNode(new NodeCredentialRepository(h.db), 'revoke-me', { rotate: true });
    const secret = enrolment.secret;
    // The gateway's check of upload tokens, reading the same table (no cache: a fresh read each time).
    const gateway = new UploadAuth({
      source: prismaTokenSource(h.db),
      cacheMs: 0,
      owners: { check: async () => ({ ok: true }) } as unknown as CameraOwners,
    });
    const upload = () =>
      gateway.check(
        { authorization: `Bearer ${enrolment.uploadToken}`, [SEGMENT_HEADERS.node]: 'revoke-me' },
        'revoke-cam',
      );
    assert.deepEqual(await upload(), { nodeId: 'revoke-me' });
    const opts = { clientId: 'agent-revoke-me', username: 'revoke-me', password: secret, reconnectPeriod: 0 };
    const url = `mqtt://127.0.0.1:${h.master.mqttPort}`;
    const client = await mqtt.connectAsync(url, opts);
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    const res = await h.fetch('/api/nodes/revoke-me/credentials', { method: 'DELETE' });
    assert.equal(res.status, 204);
    await waitFor('the live connection is closed', () => closed);
    await assert.rejects(mqtt.connectAsync(url, opts), 'the broker refuses the revoked node');
    assert.equal(await h.db.nodeCredential.count({ where: { nodeId: 'revoke-me' } }), 0);
    assert.equal(
      ((await upload()) as { code?: string }).code,
      'forbidden',
      'the gateway refuses its uploads',
    );
    assert.equal((await h.fetch('/api/nodes/revoke-me/credentials', { method: 'DELETE' })).status, 404);
    const page = await audit('node=revoke-me');
    assert.deepEqual(
      page.entries.map((e) => [e.action, e.nodeId, e.detail]),
      [['node_revoke', 'revoke-me', { disconnected: 1 }]],
    );
    client.end(true);
  });
});
