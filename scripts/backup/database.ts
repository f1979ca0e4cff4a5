/**
 * The database part of a backup, without pg_dump (docs/adr/0018-backup-and-restore.md): the
 * schema is whatever the recorded Prisma migrations make, so only the data travels, one
 * `COPY … TO STDOUT` file per table read in one read-only snapshot, and the sequences' values.
 * Tables come from the catalog, in foreign-key order, so a table a new migration adds is
 * covered without a change here.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

/** Prisma's own bookkeeping: recorded as the migration list, rebuilt by applying them. */
export const MIGRATIONS_TABLE = '_prisma_migrations';

export interface TableDump {
  name: string;
  /** The columns copied, in order (generated columns are left out: the database makes them). */
  columns: string[];
  rows: number;
  /** The part of the archive holding its COPY text. */
  part: string;
}

export interface SequenceValue {
  name: string;
  lastValue: string;
  isCalled: boolean;
}

export interface AppliedMigration {
  name: string;
  checksum: string;
}

export interface DatabaseDump {
  serverVersion: string;
  migrations: AppliedMigration[];
  tables: TableDump[];
  sequences: SequenceValue[];
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The tables of the public schema (but Prisma's own), parents before children. A table that
 * refers to itself is fine (COPY checks its foreign keys at the end of the statement); a cycle
 * between tables cannot be loaded by a role that may not defer or disable constraints, and is
 * reported rather than half restored.
 */
export async function tablesInOrder(c: pg.Client): Promise<string[]> {
  const tables = (
    await c.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         AND c.relname <> $1
       ORDER BY c.relname`,
      [MIGRATIONS_TABLE],
    )
  ).rows.map((r) => r.name);
  const edges = (
    await c.query<{ child: string; parent: string }>(
      `SELECT ch.relname AS child, pa.relname AS parent
       FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
       JOIN pg_class pa ON pa.oid = k.confrelid
       WHERE k.contype = 'f' AND n.nspname = 'public' AND ch.oid <> pa.oid`,
    )
  ).rows;
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const e of edges) parents.get(e.child)?.add(e.parent);
  const order: string[] = [];
  const done = new Set<string>();
  // Kahn's algorithm, alphabetical among the ready ones so that the order is stable.
  while (order.length < tables.length) {
    const ready = tables.filter((t) => !done.has(t) && [...(parents.get(t) ?? [])].every((p) => done.has(p)));
    if (ready.length === 0) {
      const left = tables.filter((t) => !done.has(t));
      throw new Error(`foreign keys form a cycle between ${left.join(', ')}; backup cannot order them`);
    }
    for (const t of ready) {
      order.push(t);
      done.add(t);
    }
  }
  return order;
}

async function columnsOf(c: pg.Client, table: string): Promise<string[]> {
  const res = await c.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     ORDER BY a.attnum`,
    [ident(table)],
  );
  return res.rows.map((r) => r.name);
}

/** The sequences of the public schema, by name. */
async function sequenceNames(c: pg.Client): Promise<string[]> {
  const res = await c.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'S' ORDER BY c.relname`,
  );
  return res.rows.map((r) => r.name);
}

/** Counts rows of COPY text (one line per row: newlines inside values are escaped) and hashes it. */
class Tally extends Transform {
  rows = 0;
  bytes = 0;
  private readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.rows++;
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.push(chunk);
    done();
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

export interface PartDigest {
  bytes: number;
  sha256: string;
}

/**
 * Writes every table's rows under `dir` (`db/NNN-<table>.copy`) from one REPEATABLE READ,
 * read-only transaction: every table as of the same instant. `c` must be the owner (it reads
 * every table).
 */
export async function dumpDatabase(
  c: pg.Client,
  dir: string,
  onPart: (part: string, digest: PartDigest) => void,
): Promise<DatabaseDump> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const serverVersion = (await c.query<{ v: string }>('SHOW server_version')).rows[0]?.v ?? '';
    const hasMigrations = (
      await c.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
        `public.${MIGRATIONS_TABLE}`,
      ])
    ).rows[0]?.ok;
    if (!hasMigrations) throw new Error('the database has no migrations applied: nothing to back up');
    const migrations = (
      await c.query<AppliedMigration>(
        `SELECT migration_name AS name, checksum FROM ${MIGRATIONS_TABLE}
         WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
      )
    ).rows;
    const tables: TableDump[] = [];
    const order = await tablesInOrder(c);
    for (const [i, name] of order.entries()) {
      const columns = await columnsOf(c, name);
      const part = `db/${String(i + 1).padStart(3, '0')}-${name}.copy`;
      const tally = new Tally();
      const source = c.query(
        copyTo(`COPY ${ident(name)} (${columns.map(ident).join(', ')}) TO STDOUT (FORMAT text)`),
      );
      await pipeline(source, tally, createWriteStream(join(dir, part), { mode: 0o600 }));
      onPart(part, { bytes: tally.bytes, sha256: tally.digest() });
      tables.push({ name, columns, rows: tally.rows, part });
    }
    // Read after the snapshot's rows: a sequence is never behind an id those rows use.
    const sequences: SequenceValue[] = [];
    for (const name of await sequenceNames(c)) {
      const r = await c.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text, is_called FROM ${ident(name)}`,
      );
      const row = r.rows[0];
      if (row) sequences.push({ name, lastValue: row.last_value, isCalled: row.is_called });
    }
    await c.query('COMMIT');
    return { serverVersion, migrations, tables, sequences };
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Tables of the public schema (Prisma's own left out) that hold at least one row. */
export async function nonEmptyTables(c: pg.Client): Promise<string[]> {
  const found: string[] = [];
  for (const name of await tablesInOrder(c).catch(() => [] as string[])) {
    const r = await c.query(`SELECT 1 FROM ${ident(name)} LIMIT 1`);
    if (r.rowCount) found.push(name);
  }
  return found;
}

/** Other client sessions on the same database (a master or gateway still running on it). */
export async function otherSessions(c: pg.Client): Promise<number> {
  const r = await c.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * Empties the public schema (as its owner): every table, type and function a migration made
 * goes, so that the recorded migrations can be applied to nothing, as on a new database.
 */
export async function resetSchema(c: pg.Client, serviceRoles: string[]): Promise<void> {
  await c.query('BEGIN');
  try {
    await c.query('DROP SCHEMA IF EXISTS public CASCADE');
    await c.query('CREATE SCHEMA public');
    // What prisma/sql/roles.sql gives the schema, which a superuser ran once.
    await c.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await c.query(`GRANT USAGE ON SCHEMA public TO ${serviceRoles.map(ident).join(', ')}`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Loads the dumped rows into a schema made by the same migrations, in one transaction:
 * parents before children, each table's row count checked, then every sequence set to its
 * recorded value. Nothing stays behind when any of it fails.
 */
export async function loadDatabase(c: pg.Client, dir: string, dump: DatabaseDump): Promise<void> {
  const byName = new Map(dump.tables.map((t) => [t.name, t]));
  await c.query('BEGIN');
  try {
    const order = await tablesInOrder(c);
    const extra = order.filter((t) => !byName.has(t));
    if (extra.length)
      throw new Error(`the migrations made tables the backup does not have: ${extra.join(', ')}`);
    const missing = dump.tables.filter((t) => !order.includes(t.name)).map((t) => t.name);
    if (missing.length)
      throw new Error(`the backup has tables the migrations did not make: ${missing.join(', ')}`);
    for (const name of order) {
      const t = byName.get(name) as TableDump;
      const sink = c.query(
        copyFrom(`COPY ${ident(name)} (${t.columns.map(ident).join(', ')}) FROM STDIN (FORMAT text)`),
      );
      await pipeline(createReadStream(join(dir, t.part)), sink);
      if (sink.rowCount !== t.rows)
        throw new Error(`table ${name}: ${sink.rowCount} rows loaded, the backup lists ${t.rows}`);
    }
    for (const s of dump.sequences)
      await c.query('SELECT setval($1::regclass, $2::bigint, $3)', [ident(s.name), s.lastValue, s.isCalled]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Each table's row count now, against the backup's. Returns the differences (none: all match). */
export async function countMismatches(c: pg.Client, dump: DatabaseDump): Promise<string[]> {
  const out: string[] = [];
  for (const t of dump.tables) {
    const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${ident(t.name)}`);
    const n = Number(r.rows[0]?.n ?? -1);
    if (n !== t.rows) out.push(`${t.name}: ${n} rows, the backup has ${t.rows}`);
  }
  return out;
}
