import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrationList } from '@prisma/schema-engine-wasm';
import { openSchemaEngine } from './schema-engine.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const schemaPath = join(root, 'schema.prisma');
export const migrationsDir = join(root, 'migrations');

const filters = { externalTables: [], externalEnums: [] };

/** Reads prisma/migrations the way the Prisma CLI does. */
export async function loadMigrations(dir = migrationsDir): Promise<MigrationList> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const lockPath = join(dir, 'migration_lock.toml');
  const lock = await readFile(lockPath, 'utf8').catch(() => null);
  const migrationDirectories = await Promise.all(
    entries.map(async (name) => {
      const path = join(dir, name, 'migration.sql');
      const content = await readFile(path, 'utf8').then(
        (ok) => ({ tag: 'ok' as const, value: ok }),
        (err: Error) => ({ tag: 'error' as const, value: err.message }),
      );
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lock },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/**
 * Applies every migration not yet recorded in `_prisma_migrations`, in order, exactly as
 * `prisma migrate deploy` would. Returns the names applied by this call.
 */
export async function applyMigrations(
  databaseUrl: string,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const handle = await openSchemaEngine(databaseUrl, schemaPath, log);
  try {
    const migrationsList = await loadMigrations();
    const out = await handle.engine.applyMigrations({ migrationsList, filters });
    return out.appliedMigrationNames;
  } finally {
    await handle.close();
  }
}

/**
 * SQL that turns a database described by `fromSchema` (null: an empty database) into one
 * described by schema.prisma. Datamodel to datamodel, so no live database is described.
 */
export async function diffSchemas(databaseUrl: string, fromSchema: string | null): Promise<string> {
  const handle = await openSchemaEngine(databaseUrl, schemaPath);
  try {
    const datamodel = await readFile(schemaPath, 'utf8');
    const res = await handle.engine.diff({
      from:
        fromSchema === null
          ? { tag: 'empty' }
          : { tag: 'schemaDatamodel', files: [{ path: 'previous.prisma', content: fromSchema }] },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: datamodel }] },
      script: true,
      exitCode: null,
      filters,
    });
    return res.stdout ?? '';
  } finally {
    await handle.close();
  }
}
