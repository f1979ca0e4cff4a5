/**
 * Makes an MQTT service account for a tool or dashboard: prints a new password once, and the
 * `name:hash` entry to add to MQTT_SERVICE_ACCOUNTS (inline or in its file). Nothing is stored.
 *
 *   node --import tsx master/bin/service-account.ts <name>
 */
import { isValidId } from '@cctv/protocol';
import { hashSecret, newSecret } from '../src/auth/secret-hash.ts';

const name = process.argv[2] ?? '';
if (!isValidId(name) || name.startsWith('agent-') || process.argv.length > 3) {
  console.error('usage: service-account <name>   (name: [a-z0-9][a-z0-9-]{0,62}, not agent-*)');
  process.exit(2);
}
const secret = newSecret();
console.log(`# MQTT service account ${name}; the password is shown only this once.`);
console.log(`username: ${name}`);
console.log(`password: ${secret}`);
console.log('# Add to MQTT_SERVICE_ACCOUNTS (connect with any client id not starting with agent-):');
console.log(`${name}:${await hashSecret(secret)}`);
