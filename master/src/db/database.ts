import { join } from 'node:path';
import { applyMigrations, createPrismaClient, type PrismaClient, startEmbeddedPostgres } from '@cctv/db';
import type { Logger } from 'pino';

export interface Database {
  url: string;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL (or starts the embedded one under `<dataDir>/postgres`), applies
 * pending migrations and returns a Prisma client.
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
    url = pg.url;
    stopEmbedded = pg.stop;
    log.info({ dir, port: opts.embeddedPgPort }, 'embedded PostgreSQL started');
  }
  const applied = await applyMigrations(url);
  log.info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');
  const prisma = createPrismaClient(url);
  return {
    url,
    prisma,
    async close() {
      await prisma.$disconnect();
      await stopEmbedded?.();
    },
  };
}
