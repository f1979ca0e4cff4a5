import { createPrismaClient, waitForSchema } from '@cctv/db';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { createGateway } from './gateway.ts';

// Storage gateway: segment ingest → durable local buffer → NAS, with an index and VOD playlists;
// event snapshots stored and served beside them.

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(); // env, validated once
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}

const logger = pino({ level: config.logLevel, base: { service: 'storage-gateway' } });
// Migrated by the master (embedded database) or prisma/bin/migrate.ts: this role cannot.
await waitForSchema(config.databaseUrl, {
  log: (pending) => logger.warn({ pending }, 'waiting for the database migrations'),
});
const prisma = createPrismaClient(config.databaseUrl); // segment index
const gateway = await createGateway({ config, logger, prisma }); // buffer, NAS mover, index, HTTP
const address = await gateway.start();
logger.info(
  { address, bufferDir: config.bufferDir, nasDir: config.nasDir, snapshotDir: config.snapshotDir },
  'storage gateway listening',
);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping: no new uploads, finishing the NAS move in flight');
  try {
    await gateway.stop();
    await prisma.$disconnect();
    logger.info('stopped');
    process.exit(0);
  } catch (err) {
    logger.error({ err }, 'unclean stop');
    process.exit(1);
  }
}
process.once('SIGTERM', (s) => void shutdown(s));
process.once('SIGINT', (s) => void shutdown(s));
