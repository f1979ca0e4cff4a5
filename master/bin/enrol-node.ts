/**
 * Enrols a node: creates its MQTT credential (or with --rotate replaces it) and prints the
 * password once. Uses DATABASE_URL, else the embedded PostgreSQL of a running master on
 * EMBEDDED_PG_PORT, else starts the embedded server under MASTER_DATA_DIR as the master would.
 *
 *   node --import tsx master/bin/enrol-node.ts <nodeId> [--rotate]
 */
import {
  agentYamlSnippet,
  EnrolmentError,
  enrolNode,
  NodeCredentialRepository,
} from '../src/auth/node-credentials.ts';
import { openCliDatabase } from './cli-database.ts';

const usage = 'usage: enrol-node <nodeId> [--rotate]';
const args = process.argv.slice(2);
const rotate = args.includes('--rotate');
const positional = args.filter((a) => a !== '--rotate');
const nodeId = positional[0];
if (!nodeId || positional.length > 1 || nodeId.startsWith('-')) {
  console.error(usage);
  process.exit(2);
}

const { db } = await openCliDatabase('enrol-node');
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
