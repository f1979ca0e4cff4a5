/**
 * The schema of a restore: exactly the migrations the backup recorded, applied by the same wasm
 * schema engine the services use (docs/adr/0003), so the rows fit the tables they came from.
 * Migrations newer than the backup are applied after the rows are in, as on an upgrade.
 */
import { createHash } from 'node:crypto';
import { loadMigrations, schemaPath } from '../../prisma/src/migrations.ts';
import { openSchemaEngine } from '../../prisma/src/schema-engine.ts';
import type { AppliedMigration } from './database.ts';

const filters = { externalTables: [], externalEnums: [] };

/** The migrations this copy of the software carries, with Prisma's checksum of each. */
export async function knownMigrations(): Promise<Map<string, string>> {
  const list = await loadMigrations();
  const out = new Map<string, string>();
  for (const m of list.migrationDirectories)
    if (m.migrationFile.content.tag === 'ok')
      out.set(m.path, createHash('sha256').update(m.migrationFile.content.value).digest('hex'));
  return out;
}

/**
 * Why this software cannot rebuild the backup's schema, or null: a migration it does not
 * carry (the backup is from a newer release) or one whose text differs from the one applied.
 */
export async function migrationProblem(recorded: AppliedMigration[]): Promise<string | null> {
  const known = await knownMigrations();
  const unknown = recorded.filter((m) => !known.has(m.name)).map((m) => m.name);
  if (unknown.length)
    return `the backup's database has migrations this release does not carry (${unknown.join(', ')}): restore with a release at least as new as the one that made the backup`;
  const changed = recorded.filter((m) => known.get(m.name) !== m.checksum).map((m) => m.name);
  if (changed.length)
    return `migrations differ from the ones the backup's database applied: ${changed.join(', ')}`;
  return null;
}

/** Applies the named migrations only, in order, to an empty schema (as the owner). */
export async function applyOnly(ownerUrl: string, names: string[]): Promise<string[]> {
  const wanted = new Set(names);
  const all = await loadMigrations();
  const migrationsList = {
    ...all,
    migrationDirectories: all.migrationDirectories.filter((m) => wanted.has(m.path)),
  };
  const handle = await openSchemaEngine(ownerUrl, schemaPath);
  try {
    const out = await handle.engine.applyMigrations({ migrationsList, filters });
    return out.appliedMigrationNames;
  } finally {
    await handle.close();
  }
}
