/**
 * Least privilege in PostgreSQL (docs/adr/0011): each service role is tried against a real
 * server for what it must not do, every table has a deliberate grant decision, no signing
 * key is left in the database, and key rotation keeps the sessions of one key before.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import pg from 'pg';
import { rotateSessionKeyFile } from '../../master/src/auth/session-tokens.ts';
import { grantsSqlPath } from '../../prisma/src/roles.ts';
import {
  freePort,
  onCleanup,
  startService,
  startTestDatabase,
  type TestDatabase,
  tempDir,
  waitFor,
} from '../support/index.ts';
import { signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

let db: TestDatabase;
const clients = new Map<string, pg.Client>();

async function as(url: string): Promise<pg.Client> {
  let c = clients.get(url);
  if (!c) {
    c = new pg.Client({ connectionString: url });
    await c.connect();
    onCleanup(() => c?.end());
    clients.set(url, c);
  }
  return c;
}

/** The statement is refused for want of privilege (42501), not for another reason. */
async function refused(url: string, sql: string): Promise<void> {
  await assert.rejects((await as(url)).query(sql), (err: { code?: string; message: string }) => {
    assert.equal(err.code, '42501', `${sql}: ${err.message}`);
    return true;
  });
}

before(async () => {
  db = await startTestDatabase();
});

describe('service roles', () => {
  it('are neither superusers nor owners of anything, and cannot create in the schema', async () => {
    const owner = await as(db.owner);
    for (const role of ['cctv_master', 'cctv_gateway']) {
      const r = await owner.query(
        'SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1',
        [role],
      );
      assert.deepEqual(r.rows[0], {
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolbypassrls: false,
      });
      const owned = await owner.query(
        `SELECT c.relname FROM pg_class c WHERE c.relowner = $1::regrole
         UNION ALL SELECT p.proname FROM pg_proc p WHERE p.proowner = $1::regrole
         UNION ALL SELECT n.nspname FROM pg_namespace n WHERE n.nspowner = $1::regrole`,
        [role],
      );
      assert.deepEqual(owned.rows, [], `${role} owns nothing`);
      const create = await owner.query("SELECT has_schema_privilege($1, 'public', 'CREATE') AS ok", [role]);
      assert.equal(create.rows[0].ok, false, `${role} cannot CREATE in public`);
    }
    const owner_ = await owner.query("SELECT rolsuper FROM pg_roles WHERE rolname = 'cctv_owner'");
    assert.equal(owner_.rows[0].rolsuper, false, 'the owner is no superuser either');
    for (const url of [db.url, db.gateway]) {
      await refused(url, 'CREATE TABLE "Intruder" (id int)');
      await refused(url, 'CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$');
    }
  });

  it('the master may only append to and read the audit log', async () => {
    const m = await as(db.url);
    await m.query(`INSERT INTO "AuditEntry" (username, action) VALUES ('t', 'test')`);
    assert.ok((await m.query('SELECT count(*) FROM "AuditEntry"')).rows[0].count >= 1);
    await refused(db.url, `UPDATE "AuditEntry" SET action = 'forged'`);
    await refused(db.url, 'DELETE FROM "AuditEntry"');
    await refused(db.url, 'TRUNCATE "AuditEntry"');
    await refused(db.url, 'ALTER TABLE "AuditEntry" DISABLE TRIGGER "AuditEntry_append_only"');
    await refused(db.url, 'ALTER TABLE "AuditEntry" DROP COLUMN detail');
    await refused(db.url, 'DROP TRIGGER "AuditEntry_append_only" ON "AuditEntry"');
    await refused(db.url, 'SET session_replication_role = replica');
    // Under the grants, the trigger: even the owner cannot rewrite history without dropping it.
    for (const sql of [
      `UPDATE "AuditEntry" SET action = 'forged'`,
      'DELETE FROM "AuditEntry"',
      'TRUNCATE "AuditEntry"',
    ])
      await assert.rejects((await as(db.owner)).query(sql), /append-only/);
  });

  it('the gateway reads nothing of users, sessions, audit, settings or node passwords', async () => {
    for (const table of [
      'User',
      'Session',
      'UserCamera',
      'UserSetting',
      'AuditEntry',
      'MasterSetting',
      'ExportJob',
    ])
      await refused(db.gateway, `SELECT * FROM "${table}"`);
    await refused(db.gateway, 'SELECT "passwordHash" FROM "NodeCredential"');
    await refused(db.gateway, 'SELECT * FROM "Camera"');
    await refused(db.gateway, `INSERT INTO "Event" (id) VALUES (gen_random_uuid())`);
    await refused(db.gateway, `UPDATE "Camera" SET "nodeId" = 'x'`);
    await refused(db.gateway, `INSERT INTO "GrantKey" (id, "publicKey") VALUES ('k', 'x')`);
    await refused(db.gateway, 'DELETE FROM "AuditEntry"');
  });

  it('the gateway can do what it does', async () => {
    const g = await as(db.gateway);
    const m = await as(db.url);
    await m.query(`INSERT INTO "Node" (id) VALUES ('n-roles')`);
    await m.query(
      `INSERT INTO "Camera" (id, "nodeId", name, "updatedAt") VALUES ('c-roles', 'n-roles', 'c', now())`,
    );
    const seg = await g.query(
      `INSERT INTO "Segment" ("cameraId", "nodeId", name, "initName", "startAt", "durationMs", bytes, codec, sha256)
       VALUES ('c-roles', 'n-roles', 's1', 'i', now(), 2000, 10, 'h264', repeat('0', 64)) RETURNING id`,
    );
    await g.query(`UPDATE "Segment" SET location = 'nas' WHERE id = $1`, [seg.rows[0].id]);
    await g.query('SELECT "nodeId" FROM "Camera" WHERE id = $1', ['c-roles']);
    await g.query('SELECT "uploadTokenHash" FROM "NodeCredential" LIMIT 1');
    await g.query('SELECT id, "cameraId", "startedAt", "endedAt", "lastAt" FROM "Event" LIMIT 1');
    await g.query('SELECT id, "publicKey" FROM "GrantKey"');
    const alert = await g.query(
      `INSERT INTO "SecurityAlert" (kind, source, message) VALUES ('test', 'gateway', 'm') RETURNING id`,
    );
    await g.query(`UPDATE "SecurityAlert" SET count = count + 1, "lastAt" = now() WHERE id = $1`, [
      alert.rows[0].id,
    ]);
    await g.query('DELETE FROM "Segment" WHERE id = $1', [seg.rows[0].id]);
  });
});

it('every table and sequence has a grant decision in prisma/sql/grants.sql', async () => {
  const decided = await readFile(grantsSqlPath, 'utf8');
  const rows = await (await as(db.owner)).query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1`,
  );
  const missing = rows.rows.map((r) => r.relname as string).filter((name) => !decided.includes(`"${name}"`));
  assert.deepEqual(
    missing,
    [],
    'decide in prisma/sql/grants.sql what each service role may do with these (GRANT, or a "no service role" line)',
  );
});

describe('signing keys', () => {
  const dir = { path: '' };
  const ports = { http: 0 };
  const env = () => ({
    DATABASE_URL: db.url,
    MASTER_DATA_DIR: join(dir.path, 'master'),
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(ports.http),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  });
  const base = () => `https://127.0.0.1:${ports.http}`;
  async function startMaster() {
    ports.http = await freePort();
    const master = startService('master/src/main.ts', env());
    await waitFor(
      'master',
      async () => (await fetch(`${base()}/healthz`).catch(() => null))?.ok ?? false,
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${master.output()}`);
    });
    return master;
  }
  const me = async (cookie: string) => (await fetch(`${base()}/api/auth/me`, { headers: { cookie } })).status;

  it('are not in the database: an old key is moved out, a key forged from the database is refused', async () => {
    dir.path = await tempDir('cctv-keys-');
    // An install from before: both keys in MasterSetting.
    const owner = await as(db.owner);
    await owner.query(`INSERT INTO "MasterSetting" (key, value) VALUES ('session-signing-key', $1)`, [
      Buffer.alloc(32, 7).toString('base64'),
    ]);
    const master = await startMaster();
    const admin = await signInAdmin(base());
    assert.equal(await me(admin.cookie), 200);
    for (const url of [db.url, db.owner]) {
      const rows = await (await as(url)).query('SELECT key, value FROM "MasterSetting"');
      assert.deepEqual(rows.rows, [], 'no key left in the database');
    }
    await refused(db.gateway, 'SELECT * FROM "MasterSetting"');
    const file = JSON.parse(await readFile(join(dir.path, 'master', 'keys', 'session.json'), 'utf8'));
    assert.equal(file.current.key, Buffer.alloc(32, 7).toString('base64'), 'the old key moved to the file');
    const { mode } = await import('node:fs/promises').then((fs) =>
      fs.stat(join(dir.path, 'master', 'keys', 'session.json')),
    );
    assert.equal(mode & 0o777, 0o600);
    // A token signed with what the database held before (and now holds: nothing) is refused.
    const [, payload] = admin.cookie.replace('cctv_session=', '').split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    for (const key of [Buffer.alloc(32, 1), Buffer.alloc(32, 0)]) {
      const forged = await new SignJWT({ ver: claims.ver })
        .setProtectedHeader({ alg: 'HS256', kid: file.current.kid })
        .setJti(claims.jti)
        .setSubject(claims.sub)
        .setIssuer('cctv-master')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
      assert.equal(await me(`cctv_session=${forged}`), 401);
    }
    await master.kill();
  });

  it('a rotation keeps the sessions of the key before; a second one ends them', async () => {
    const keyFile = join(dir.path, 'master', 'keys', 'session.json');
    let master = await startMaster();
    const admin = await signInAdmin(base());
    assert.equal(await me(admin.cookie), 200);
    await rotateSessionKeyFile(keyFile);
    await master.kill();
    master = await startMaster();
    assert.equal(await me(admin.cookie), 200, 'signed by the previous key: still valid');
    const fresh = await signInAdmin(base());
    await rotateSessionKeyFile(keyFile);
    await master.kill();
    master = await startMaster();
    assert.equal(await me(admin.cookie), 401, 'two keys back: ended');
    assert.equal(await me(fresh.cookie), 200, 'signed by the key one rotation back: valid');
    await master.kill();
  });
});
