/**
 * Database roles and their rights: the owner migrates, the master and the gateway log in as
 * roles of their own with only what they use. The statements are `sql/roles.sql` (run by a
 * superuser) and `sql/grants.sql` (run by the owner after every migration run), the one
 * source for the embedded server, `bin/migrate.ts`, Compose and Ansible.
 * See docs/adr/0011-database-roles-and-secrets.md.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { applyMigrations, loadMigrations } from './migrations.ts';

const sqlDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'sql');
export const rolesSqlPath = join(sqlDir, 'roles.sql');
export const grantsSqlPath = join(sqlDir, 'grants.sql');

/** The roles by what they are for; names fixed so that one grant file serves every install. */
export const DB_ROLES = { owner: 'cctv_owner', master: 'cctv_master', gateway: 'cctv_gateway' } as const;
export type DbRole = keyof typeof DB_ROLES;

/** A password for a role: 32 random bytes, URL-safe (it goes into a `postgresql://` URL as is). */
export function newRolePassword(): string {
  return randomBytes(32).toString('base64url');
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** What `ensureRoles` changed: roles it created, roles whose password it set. */
export interface RolesOutcome {
  created: DbRole[];
  passwordsSet: DbRole[];
}

/**
 * Does `password` match a verifier from `pg_authid.rolpassword` (SCRAM-SHA-256, or MD5 of an
 * older server)? Computed here, so that an unchanged password is never set again and a run
 * that changes nothing says so. A password PostgreSQL would normalise (SASLprep of non-ASCII
 * text) may not match: it is then set again, which is harmless.
 */
export function passwordMatches(verifier: string | null, role: string, password: string): boolean {
  if (!verifier) return false;
  const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (scram) {
    const [iterations, salt, storedKey, serverKey] = scram.slice(1) as [string, string, string, string];
    const text = password.normalize('NFKC');
    const salted = pbkdf2Sync(text, Buffer.from(salt, 'base64'), Number(iterations), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const stored = createHash('sha256').update(clientKey).digest();
    const server = createHmac('sha256', salted).update('Server Key').digest();
    const want = Buffer.concat([Buffer.from(storedKey, 'base64'), Buffer.from(serverKey, 'base64')]);
    const got = Buffer.concat([stored, server]);
    return want.length === got.length && timingSafeEqual(want, got);
  }
  const md5 = createHash('md5').update(`${password}${role}`).digest('hex');
  if (/^md5[0-9a-f]{32}$/.test(verifier)) return verifier === `md5${md5}`;
  return false;
}

/**
 * As a superuser: creates the roles where missing (sql/roles.sql), hands the database and
 * its objects to the owner, and sets the passwords given where they differ. Says what it
 * created and which passwords it set.
 */
export async function ensureRoles(
  superuserUrl: string,
  passwords: Partial<Record<DbRole, string>> = {},
): Promise<RolesOutcome> {
  const sql = await readFile(rolesSqlPath, 'utf8');
  const names = Object.values(DB_ROLES);
  return withClient(superuserUrl, async (c) => {
    const before = await c.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
      [names],
    );
    const existed = new Set(before.rows.map((r) => r.rolname));
    await c.query(sql);
    const outcome: RolesOutcome = {
      created: (Object.keys(DB_ROLES) as DbRole[]).filter((role) => !existed.has(DB_ROLES[role])),
      passwordsSet: [],
    };
    for (const [role, password] of Object.entries(passwords) as [DbRole, string][]) {
      const name = DB_ROLES[role];
      const current = await c.query<{ rolpassword: string | null }>(
        'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
        [name],
      );
      if (passwordMatches(current.rows[0]?.rolpassword ?? null, name, password)) continue;
      await c.query(`ALTER ROLE ${name} PASSWORD ${c.escapeLiteral(password)}`);
      outcome.passwordsSet.push(role);
    }
    return outcome;
  });
}

/** As the owner: the service roles' rights from sql/grants.sql, in one transaction. */
export async function applyGrants(ownerUrl: string): Promise<void> {
  const sql = await readFile(grantsSqlPath, 'utf8');
  await withClient(ownerUrl, async (c) => {
    await c.query('BEGIN');
    try {
      await c.query(sql);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    }
  });
}

/** As the owner: pending migrations, then the grants (again, covering what they added). */
export async function migrateDatabase(
  ownerUrl: string,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const applied = await applyMigrations(ownerUrl, log);
  await applyGrants(ownerUrl);
  return applied;
}

/** Migrations in prisma/migrations that `_prisma_migrations` does not list as finished. */
export async function pendingMigrations(url: string): Promise<string[]> {
  const local = (await loadMigrations()).migrationDirectories.map((m) => m.path);
  const done = await withClient(url, async (c) => {
    const exists = await c.query("SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS ok");
    if (!exists.rows[0].ok) return new Set<string>();
    const rows = await c.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    return new Set(rows.rows.map((r) => r.migration_name));
  });
  return local.filter((name) => !done.has(name));
}

/**
 * For a service on its own role, which cannot migrate: waits up to `timeoutMs` for the
 * schema to be current (a migration step started beside it), then fails naming what is missing.
 */
export async function waitForSchema(
  url: string,
  opts: { timeoutMs?: number; log?: (pending: string[]) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (let logged = false; ; logged = true) {
    const pending = await pendingMigrations(url);
    if (pending.length === 0) return;
    if (Date.now() >= deadline)
      throw new Error(
        `the database schema is not current (pending: ${pending.join(', ')}); ` +
          'run the migrations as the owner role: node --import tsx prisma/bin/migrate.ts (see prisma/README.md)',
      );
    if (!logged) opts.log?.(pending);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
