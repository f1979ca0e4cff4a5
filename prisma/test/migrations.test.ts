import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { freePort, onCleanup, tempDir } from '../../test/support/index.ts';
import { applyMigrations, startEmbeddedPostgres } from '../src/index.ts';

it('applies every migration once, records it like the Prisma CLI, and releases the lock', async () => {
  const server = await startEmbeddedPostgres({ dataDir: await tempDir('cctv-pg-'), port: await freePort() });
  onCleanup(() => server.stop());
  const first = await applyMigrations(server.url);
  assert.ok(first.length >= 1, 'migrations applied on an empty database');
  const t0 = Date.now();
  assert.deepEqual(await applyMigrations(server.url), [], 'nothing left to apply');
  assert.ok(Date.now() - t0 < 5000, 'the second run did not wait for a lock left held by the first');

  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  onCleanup(() => client.end());
  const rows = await client.query(
    'SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations ORDER BY migration_name',
  );
  assert.deepEqual(
    rows.rows.map((r) => r.migration_name),
    first,
  );
  assert.ok(rows.rows.every((r) => r.finished_at !== null && r.rolled_back_at === null));
  const tables = await client.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
  );
  const names = tables.rows.map((r) => r.table_name);
  for (const t of ['Camera', 'Node', 'Segment']) assert.ok(names.includes(t), `${t} exists`);
});
