/**
 * Enrols a node: creates its MQTT credential (or with --rotate replaces it) and prints the
 * password once. Uses DATABASE_URL, else the embedded PostgreSQL of a running master on
 * EMBEDDED_PG_PORT, else starts the embedded server under MASTER_DATA_DIR as the master would.
 *
 *   node --import tsx master/bin/enrol-node.ts <nodeId> [--rotate]
 */
import { connect } from 'node:net';
import { embeddedDatabaseUrl } from '@cctv/db';
import { pino } from 'pino';
import {
  agentYamlSnippet,
  EnrolmentError,
  enrolNode,
  NodeCredentialRepository,
} from '../src/auth/node-credentials.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';

const usage = 'usage: enrol-node <nodeId> [--rotate]';
const args = process.argv.slice(2);
const rotate = args.includes('--rotate');
const positional = args.filter((a) => a !== '--rotate');
const nodeId = positional[0];
if (!nodeId || positional.length > 1 || nodeId.startsWith('-')) {
  console.error(usage);
  process.exit(2);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`enrol-node: ${err.message}`);
  process.exit(2);
}
// Logs go to stderr: stdout carries only the credential.
const log = pino({ name: 'enrol-node', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));

/** True when something accepts connections on 127.0.0.1:port (a running master's database). */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => resolve(false));
  });

const databaseUrl =
  config.databaseUrl ??
  ((await listening(config.embeddedPgPort)) ? embeddedDatabaseUrl(config.embeddedPgPort) : null);
const db = await openDatabase({ ...config, databaseUrl }, log);
let code = 0;
try {
  const enrolment = await enrolNode(new NodeCredentialRepository(db.prisma), nodeId, { rotate });
  console.log(
    [
      `# Node ${enrolment.nodeId} ${enrolment.rotated ? 'rotated: the old password is refused at new logins once the master login cache (MQTT_AUTH_CACHE_S) expires' : 'enrolled'}.`,
      '# The password is shown only this once; put these lines in the agent config (beside mqtt.url):',
      agentYamlSnippet(enrolment),
    ].join('\n'),
  );
} catch (err) {
  if (!(err instanceof EnrolmentError)) throw err;
  console.error(`enrol-node: ${err.message}`);
  code = err.code === 'BAD_NODE_ID' ? 2 : 1;
} finally {
  await db.close();
}
process.exit(code);
