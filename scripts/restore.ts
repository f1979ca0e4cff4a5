/**
 * Restores a backup made by scripts/backup.ts into this host's layout (docs/operations.md,
 * Backup and restore; docs/adr/0018): checks the file against its manifest, rebuilds the
 * schema from the recorded migrations on an empty database, loads every table's rows, sets
 * the sequences, applies the grants, and puts the keys and other files where this host's
 * services read them. Run with the services stopped.
 *
 *   npm run restore -- <backup file> [--force] [--check] [--passphrase-file <file>]
 *   (a master release: node dist/restore.mjs …, or bin/restore …, with the master's
 *   environment and DATABASE_OWNER_URL set to the owner role's URL)
 *
 * --check only unpacks and checks the file (manifest, sha256 of every part, migrations this
 * release carries) and changes nothing. Refuses a database that holds rows, or files that differ from the backup's, unless --force
 * (they are then replaced); refuses a backup whose parts do not match its manifest.
 */
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { DB_ROLES, migrateDatabase } from '../prisma/src/roles.ts';
import { extractArchive, type Manifest, sha256File, verifiedManifest } from './backup/archive.ts';
import { forRestore } from './backup/connect.ts';
import {
  countMismatches,
  loadDatabase,
  nonEmptyTables,
  otherSessions,
  resetSchema,
} from './backup/database.ts';
import { type Layout, layoutFromEnv, type Place, software } from './backup/layout.ts';
import { applyOnly, migrationProblem } from './backup/migrations.ts';
import { readPassphrase } from './backup/passphrase.ts';

const say = (line: string) => console.log(`restore: ${line}`);

interface FilePlan {
  part: string;
  target: string;
  mode: number;
  /** The target exists with other bytes. */
  differs: boolean;
  same: boolean;
}

/** Where this host keeps an archive part: a file place of that name, or inside a folder place. */
function targetOf(places: Place[], part: string): string | null {
  for (const p of places) {
    if (p.kind === 'file' && p.part === part) return p.path;
    if (p.kind === 'dir' && part.startsWith(`${p.part}/`)) return join(p.path, part.slice(p.part.length + 1));
  }
  return null;
}

async function planFiles(
  manifest: Manifest,
  layout: Layout,
  dir: string,
): Promise<{ plans: FilePlan[]; unplaced: string[] }> {
  const plans: FilePlan[] = [];
  const unplaced: string[] = [];
  for (const [part, entry] of Object.entries(manifest.parts)) {
    if (part.startsWith('db/')) continue;
    const target = targetOf(layout.places, part);
    if (!target) {
      unplaced.push(part);
      continue;
    }
    const exists = existsSync(target);
    const same = exists && (await sha256File(target)) === (await sha256File(join(dir, part)));
    plans.push({ part, target, mode: entry.mode ?? 0o600, differs: exists && !same, same });
  }
  return { plans, unplaced };
}

/** Writes a file beside its target and renames it over; as root, owned like its folder. */
async function placeFile(source: string, plan: FilePlan): Promise<void> {
  const folder = dirname(plan.target);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const tmp = `${plan.target}.restore-tmp`;
  await writeFile(tmp, await readFile(source), { mode: 0o600 });
  await chmod(tmp, plan.mode);
  // A service runs as its own user: as root, the file goes to whoever owns its folder.
  if (process.getuid?.() === 0) {
    const owner = await stat(folder);
    await chown(tmp, owner.uid, owner.gid);
  }
  await rename(tmp, plan.target);
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      force: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      'passphrase-file': { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1)
    throw new Error('usage: restore <backup file> [--force] [--check] [--passphrase-file <file>]');
  const force = values.force === true;
  const layout = layoutFromEnv(process.env, software());
  const passphrase = await readPassphrase(values['passphrase-file']);
  const dir = await mkdtemp(join(tmpdir(), 'cctv-restore-'));
  try {
    await extractArchive(resolve(file), dir, passphrase);
    const manifest = await verifiedManifest(dir);
    const { database } = manifest;
    say(
      `${file}: made ${manifest.createdAt} on ${manifest.host} by ${manifest.softwareVersion}; ` +
        `${Object.keys(manifest.parts).length} parts match the manifest`,
    );
    const migrationIssue = await migrationProblem(database.migrations);
    if (migrationIssue) throw new Error(migrationIssue);
    if (values.check) {
      for (const t of database.tables) say(`table ${t.name}: ${t.rows} rows`);
      const files = Object.keys(manifest.parts).filter((p) => !p.startsWith('db/'));
      say(`${files.length} files: ${files.join(', ')}`);
      say(
        `check: sound, and this release can restore it (${database.migrations.length} migrations); nothing changed`,
      );
      return;
    }

    // Everything checked before anything changes: the files, then the database.
    const { plans, unplaced } = await planFiles(manifest, layout, dir);
    const embedded = layout.database.kind === 'embedded';
    const pgDir = layout.database.kind === 'embedded' ? layout.database.pgDir : '';
    // An existing embedded cluster keeps its own role passwords; a new one takes the backup's.
    const keepRoles = embedded && existsSync(join(pgDir, 'roles', 'owner'));
    const filePlans = plans.filter((p) => !(keepRoles && p.part.startsWith('postgres-roles/')));
    const differing = filePlans.filter((p) => p.differs);
    if (differing.length && !force)
      throw new Error(
        `these files exist with other contents (--force replaces them):\n  ${differing.map((p) => p.target).join('\n  ')}`,
      );
    if (embedded && !keepRoles)
      for (const p of filePlans.filter((p) => p.part.startsWith('postgres-roles/')))
        await placeFile(join(dir, p.part), p);

    const db = await forRestore(layout.database);
    try {
      say(`database: ${db.where}`);
      await withClient(db.ownerUrl, async (c) => {
        const others = await otherSessions(c);
        if (others > 0)
          throw new Error(
            `${others} other session(s) are connected to the database: stop the master and the gateway first`,
          );
        const filled = await nonEmptyTables(c);
        if (filled.length && !force)
          throw new Error(
            `the database is not empty (rows in ${filled.join(', ')}): restore into a new one, or --force to replace it`,
          );
        if (filled.length) say(`--force: replacing a database with rows in ${filled.length} tables`);
        await resetSchema(c, [DB_ROLES.master, DB_ROLES.gateway]);
      });
      const applied = await applyOnly(
        db.ownerUrl,
        database.migrations.map((m) => m.name),
      );
      say(`schema: applied the backup's ${applied.length} migrations`);
      await withClient(db.ownerUrl, async (c) => {
        await loadDatabase(c, dir, database);
        const mismatches = await countMismatches(c, database);
        if (mismatches.length)
          throw new Error(`row counts differ after loading:\n  ${mismatches.join('\n  ')}`);
      });
      const rows = database.tables.reduce((n, t) => n + t.rows, 0);
      say(
        `data: ${database.tables.length} tables, ${rows} rows loaded and counted; ${database.sequences.length} sequences set`,
      );
      const newer = await migrateDatabase(db.ownerUrl);
      say(
        newer.length
          ? `schema: then applied this release's newer migrations ${newer.join(', ')}`
          : 'schema: current',
      );
      say('grants: applied (prisma/sql/grants.sql)');
    } finally {
      await db.close();
    }

    // The role passwords went in before the server started; the rest now that the data is in.
    const rest = filePlans.filter((p) => !p.part.startsWith('postgres-roles/'));
    for (const p of rest) {
      if (p.same) continue;
      await placeFile(join(dir, p.part), p);
      say(`file: ${p.part} -> ${p.target}${p.differs ? ' (replaced)' : ''}`);
    }
    const kept = rest.filter((p) => p.same).length;
    if (kept) say(`file: ${kept} already as in the backup`);
    if (keepRoles) say(`database role passwords: kept this cluster's (${join(pgDir, 'roles')})`);
    else if (embedded) say(`database role passwords: the backup's, in ${join(pgDir, 'roles')}`);
    for (const part of unplaced) say(`not restored: ${part} (this host's layout has no place for it)`);
    say('done; start the services. Footage is read from the NAS the segment index names.');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`restore: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
