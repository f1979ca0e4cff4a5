/**
 * `npm run backup` and `npm run restore` of a checkout's data folder (CCTV_DATA_DIR): the
 * embedded PostgreSQL backed up while it runs, sealed with a passphrase, restored into a new
 * folder whose cluster the restore makes with the backup's role passwords; values COPY must
 * escape come back unchanged, sequences go on where they were, and the services' roles have
 * their grants.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../prisma/src/embedded-postgres.ts';
import { migrateDatabase } from '../../prisma/src/roles.ts';
import { freePort, repoRoot, tempDir } from '../support/index.ts';

const run = promisify(execFile);
const CAPABILITIES = { note: 'tab\there, newline\nthere, back\\slash, "quotes", ünïcødé, 🎥', n: 1 };

async function npmRun(script: string, args: string[], env: Record<string, string>) {
  try {
    const r = await run('npm', ['run', '-s', script, '--', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('npm run backup / restore of a checkout', () => {
  let d1: string;
  let d2: string;
  let archive: string;
  let passphraseFile: string;

  before(async () => {
    d1 = await tempDir('cctv-bkc-1-');
    d2 = await tempDir('cctv-bkc-2-');
    const port = await freePort();
    const server = await startEmbeddedPostgres({ dataDir: join(d1, 'master', 'postgres'), port });
    try {
      await migrateDatabase(server.urls.owner);
      await query(server.urls.master, `INSERT INTO "Node" (id, capabilities) VALUES ('n-1', $1)`, [
        JSON.stringify(CAPABILITIES),
      ]);
      for (const action of ['a', 'b', 'c'])
        await query(server.urls.master, `INSERT INTO "AuditEntry" (username, action) VALUES ('admin', $1)`, [
          action,
        ]);
      await mkdir(join(d1, 'master', 'keys'), { recursive: true });
      await writeFile(join(d1, 'master', 'keys', 'session.json'), '{"current":"s"}', { mode: 0o600 });
      await mkdir(join(d1, 'tls'));
      await writeFile(join(d1, 'tls', 'ca.crt'), 'ca');
      await mkdir(join(d1, 'gateway', 'snapshots', 'cam-a'), { recursive: true });
      await writeFile(join(d1, 'gateway', 'snapshots', 'cam-a', 'e-1.jpg'), 'jpeg');
      passphraseFile = join(d1, 'passphrase');
      await writeFile(passphraseFile, 'a long enough passphrase\n', { mode: 0o600 });
      // While the cluster runs: the command uses the running server.
      const made = await npmRun('backup', ['--out', d2, '--passphrase-file', passphraseFile], {
        CCTV_DATA_DIR: d1,
        EMBEDDED_PG_PORT: String(port),
      });
      assert.equal(made.code, 0, made.out);
      assert.match(made.out, /backup: database: the running embedded PostgreSQL/);
      assert.match(made.out, /sealed with the passphrase/);
      archive = made.out.trim().split('\n').pop() ?? '';
    } finally {
      await server.stop();
    }
  });

  it('restores into a new data folder: rows, sequences, grants, role passwords and files', async () => {
    const port = await freePort();
    const env = { CCTV_DATA_DIR: join(d2, 'data'), EMBEDDED_PG_PORT: String(port) };
    const sealed = await npmRun('restore', [archive], env);
    assert.equal(sealed.code, 1, sealed.out);
    assert.match(sealed.out, /sealed with a passphrase/);

    const done = await npmRun('restore', [archive, '--passphrase-file', passphraseFile], env);
    assert.equal(done.code, 0, done.out);
    assert.match(done.out, /database role passwords: the backup's/);
    for (const role of ['owner', 'master', 'gateway'])
      assert.equal(
        await readFile(join(d2, 'data', 'master', 'postgres', 'roles', role), 'utf8'),
        await readFile(join(d1, 'master', 'postgres', 'roles', role), 'utf8'),
      );
    assert.equal(
      await readFile(join(d2, 'data', 'gateway', 'snapshots', 'cam-a', 'e-1.jpg'), 'utf8'),
      'jpeg',
    );
    assert.equal(await readFile(join(d2, 'data', 'tls', 'ca.crt'), 'utf8'), 'ca');

    const server = await startEmbeddedPostgres({ dataDir: join(d2, 'data', 'master', 'postgres'), port });
    try {
      const [node] = await query<{ capabilities: unknown }>(
        server.urls.master,
        `SELECT capabilities FROM "Node" WHERE id = 'n-1'`,
      );
      assert.deepEqual(node?.capabilities, CAPABILITIES);
      const [next] = await query<{ id: string }>(
        server.urls.master,
        `INSERT INTO "AuditEntry" (username, action) VALUES ('admin', 'd') RETURNING id::text`,
      );
      assert.equal(next?.id, '4', 'the sequence goes on after the restored rows');
      await assert.rejects(
        query(server.urls.master, `DELETE FROM "AuditEntry"`),
        /permission denied/,
        'the grants are the usual ones',
      );
    } finally {
      await server.stop();
    }
  });
});
