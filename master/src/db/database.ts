import { join } from 'node:path';
import {
  createPrismaClient,
  migrateDatabase,
  type PrismaClient,
  startEmbeddedPostgres,
  waitForSchema,
} from '@cctv/db';
import type { Logger } from 'pino';

export interface Database {
  url: string;
  /** Ingest and every write. */
  prisma: PrismaClient;
  /**
   * API reads, on a pool of their own: a wave of node messages (1,000 last wills at once) queues
   * thousands of statements on the write pool, and a dashboard read must not wait behind them.
   */
  reads: PrismaClient;
  /**
   * Event ingest (one batch in flight at a time): a burst of node hellos or last wills must
   * not put a batch of events, and so the dashboards' live alerts, behind it.
   */
  ingest: PrismaClient;
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL as the master's role and returns Prisma clients. The embedded server
 * (started under `<dataDir>/postgres` when no URL is given) is migrated here, as its owner
 * role; an external one is migrated beforehand by `prisma/bin/migrate.ts`, and this waits for
 * its schema to be current.
 */
export async function openDatabase(
  opts: { databaseUrl: string | null; dataDir: string; embeddedPgPort: number },
  log: Logger,
): Promise<Database> {
  let url = opts.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const dir = join(opts.dataDir, 'postgres');
    const pgLog = log.child({ part: 'postgres' });
    const pg = await startEmbeddedPostgres({
      dataDir: dir,
      port: opts.embeddedPgPort,
      log: (line) => pgLog.debug(line),
    });
    stopEmbedded = pg.stop;
    log.info({ dir, port: opts.embeddedPgPort }, 'embedded PostgreSQL started');
    try {
      const applied = await migrateDatabase(pg.urls.owner);
      log.info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');
    } catch (err) {
      await pg.stop();
      throw err;
    }
    url = pg.urls.master;
  } else {
    await waitForSchema(url, {
      log: (pending) => log.warn({ pending }, 'waiting for the database migrations (prisma/bin/migrate.ts)'),
    });
  }
  const prisma = createPrismaClient(url);
  const reads = createPrismaClient(url, 4);
  const ingest = createPrismaClient(url, 2);
  return {
    url,
    prisma,
    reads,
    ingest,
    async close() {
      await ingest.$disconnect();
      await reads.$disconnect();
      await prisma.$disconnect();
      await stopEmbedded?.();
    },
  };
}
