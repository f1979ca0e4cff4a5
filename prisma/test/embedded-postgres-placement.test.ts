/**
 * Where the embedded PostgreSQL puts its cluster when the `postgres` user cannot reach the
 * data folder (as root, a checkout under a 0700 folder), what it does with a cluster whose
 * data folder was made anew, and the one-line error when it cannot start at all.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../test/support/plain.ts';
import { rootOnlySkip } from '../../test/support/root-only.ts';
import { PostgresStartError, removeSystemClusters, startEmbeddedPostgres } from '../src/index.ts';

const isRoot = process.getuid?.() === 0;
const rootOnly = rootOnlySkip(isRoot ? null : 'the postgres user only comes into play as root');

async function privateFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-pg-private-'));
  await chmod(dir, 0o700);
  return dir;
}

test('a cluster out of reach lives in the system folder; one left by a deleted data folder is kept aside', {
  skip: rootOnly,
}, async (t) => {
  const top = await privateFolder();
  const home = await mkdtemp(join(tmpdir(), 'cctv-pg-home-'));
  await chmod(home, 0o755);
  t.after(() =>
    Promise.all([rm(top, { recursive: true, force: true }), rm(home, { recursive: true, force: true })]),
  );
  process.env.CCTV_POSTGRES_HOME = home;
  t.after(() => delete process.env.CCTV_POSTGRES_HOME);
  const dataDir = join(top, 'data', 'postgres');

  const first = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  await first.stop();
  const location = (await readFile(join(dataDir, 'cluster-location'), 'utf8')).trim();
  assert.equal(location.startsWith(join(home, 'clusters')), true);
  assert.ok(existsSync(join(location, 'PG_VERSION')));
  assert.equal(statSync(top).mode & 0o777, 0o700, 'the private folder keeps its mode');

  // The data folder made anew (its passwords gone): the old cluster is moved aside, not reused or deleted.
  await rm(dataDir, { recursive: true });
  const second = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  await second.stop();
  const clusters = await readdir(join(home, 'clusters'));
  assert.equal(clusters.filter((n) => n.includes('.orphaned-')).length, 1, clusters.join(', '));
  assert.ok(existsSync(join(location, 'PG_VERSION')), 'a new cluster in its place');

  // A throwaway data folder's cluster goes with it.
  await removeSystemClusters(top);
  assert.ok(!existsSync(location));
});

test('when the postgres user cannot reach the system folder, the error says so in one line', {
  skip: rootOnly,
}, async (t) => {
  const top = await privateFolder();
  const closed = await privateFolder();
  t.after(() =>
    Promise.all([rm(top, { recursive: true, force: true }), rm(closed, { recursive: true, force: true })]),
  );
  process.env.CCTV_POSTGRES_HOME = join(closed, 'pg');
  t.after(() => delete process.env.CCTV_POSTGRES_HOME);
  await mkdir(join(top, 'data'));

  await assert.rejects(
    startEmbeddedPostgres({ dataDir: join(top, 'data'), port: await freePort() }),
    (err) => {
      assert.ok(err instanceof PostgresStartError, String(err));
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, /postgres user cannot reach/);
      assert.match(err.message, /CCTV_POSTGRES_HOME/);
      assert.match(err.message, /DATABASE_URL/);
      return true;
    },
  );
  assert.equal(statSync(closed).mode & 0o777, 0o700, 'nothing loosened to make it work');
});
