import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { startMaster } from './master.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`master: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
const log = pino({ name: 'master', level: config.logLevel });

// database, fleet registry, embedded MQTT broker with ingest, HTTP API + websocket
const master = await startMaster(config, log);
log.info({ http: master.httpPort, mqtt: master.mqttPort }, 'master ready');
if (master.firstAdmin && config.users.firstAdminPassword) {
  log.info({ username: master.firstAdmin.username }, 'first admin created with MASTER_ADMIN_PASSWORD');
} else if (master.firstAdmin) {
  // Shown once, on the console only (not in the structured log, which may be shipped elsewhere).
  const { username, password } = master.firstAdmin;
  process.stdout.write(
    `\n  First admin account created. Sign in as "${username}" with the password:\n\n      ${password}\n\n` +
      '  It is not stored anywhere in clear and will not be shown again; change it after signing in.\n\n',
  );
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'master stopping');
  await master.stop();
  log.info('master stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
