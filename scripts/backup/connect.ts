/**
 * The owner's connection to the cluster's database for a backup or a restore. An external
 * server is used as it is. The embedded one of a checkout is used while `npm start` runs it;
 * when nothing listens on its port, it is started here for the time of the command and
 * stopped after (a restore needs it stopped: see `forRestore`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { embeddedDatabaseUrl, startEmbeddedPostgres } from '../../prisma/src/embedded-postgres.ts';
import type { Database } from './layout.ts';

export interface Connected {
  ownerUrl: string;
  /** A line for the operator: which server, started here or found running. */
  where: string;
  close(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return false;
    throw err;
  } finally {
    await c.end().catch(() => {});
  }
}

async function startHere(pgDir: string, port: number): Promise<Connected> {
  const server = await startEmbeddedPostgres({ dataDir: pgDir, port });
  return {
    ownerUrl: server.urls.owner,
    where: `the embedded PostgreSQL of ${pgDir} (started for this command on port ${port}, stopped after)`,
    close: () => server.stop(),
  };
}

/** For a backup: the running server, or the embedded one started for the time of it. */
export async function forBackup(db: Database): Promise<Connected> {
  if (db.kind === 'external') return { ownerUrl: db.ownerUrl, where: 'DATABASE_URL', close: async () => {} };
  if (!existsSync(join(db.pgDir, 'roles', 'owner')))
    throw new Error(
      `no cluster under ${db.pgDir} (has npm start run once? set CCTV_DATA_DIR for another folder)`,
    );
  const url = await embeddedDatabaseUrl(db.pgDir, db.port, 'owner');
  if (await answers(url))
    return {
      ownerUrl: url,
      where: `the running embedded PostgreSQL on port ${db.port}`,
      close: async () => {},
    };
  return startHere(db.pgDir, db.port);
}

/**
 * For a restore: the external server as it is (the caller checks that no service is on it);
 * the embedded one only when it is not running, started here, made on first use.
 */
export async function forRestore(db: Database): Promise<Connected> {
  if (db.kind === 'external') return { ownerUrl: db.ownerUrl, where: 'DATABASE_URL', close: async () => {} };
  if (existsSync(join(db.pgDir, 'roles', 'owner'))) {
    const url = await embeddedDatabaseUrl(db.pgDir, db.port, 'owner');
    if (await answers(url))
      throw new Error(
        `the cluster is running (its database answers on port ${db.port}): stop npm start first`,
      );
  }
  return startHere(db.pgDir, db.port);
}
