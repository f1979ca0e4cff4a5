/**
 * The database for the master's command-line tools: DATABASE_URL, else the embedded
 * PostgreSQL of a running master on EMBEDDED_PG_PORT (as the master's role, its password kept
 * under MASTER_DATA_DIR), else the embedded server under MASTER_DATA_DIR started as the master
 * would. Logs go to stderr: stdout is the tool's output.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { embeddedDatabaseUrl } from '@cctv/db';
import { type Logger, pino } from 'pino';
import { ConfigError, loadConfig, type MasterConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';

/** True when something accepts connections on 127.0.0.1:port (a running master's database). */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });

export async function openCliDatabase(
  tool: string,
): Promise<{ db: Database; config: MasterConfig; log: Logger }> {
  let config: MasterConfig;
  try {
    // The tools serve nothing: the listeners' certificates are not theirs to require.
    config = loadConfig({ ...process.env, MASTER_TLS: 'off' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${tool}: ${err.message}`);
    process.exit(2);
  }
  const log = pino({ name: tool, level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const databaseUrl =
    config.databaseUrl ??
    ((await listening(config.embeddedPgPort))
      ? await embeddedDatabaseUrl(join(config.dataDir, 'postgres'), config.embeddedPgPort, 'master')
      : null);
  const db = await openDatabase({ ...config, databaseUrl }, log);
  return { db, config, log };
}
