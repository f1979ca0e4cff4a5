/**
 * Rotates the master's signing keys in their files (docs/adr/0011): a new key signs from the
 * master's next start, the one it replaces still verifies. Restart the master (every replica)
 * afterwards.
 *
 *   node --import tsx master/bin/rotate-keys.ts [--session] [--grant]     (both by default)
 *
 * Session key: sessions signed by the key before stay valid; those of the key before that end.
 * Grant key: the new public key is published at once; the key before stays published for
 * grants it signed; refused while the previous rotation is younger than MASTER_GRANT_TTL_S.
 * Uses the master's configuration (MASTER_DATA_DIR, MASTER_SESSION_KEY_FILE,
 * MASTER_GRANT_KEY_FILE) and its database as the other tools do.
 */
import { rotateSessionKeyFile } from '../src/auth/session-tokens.ts';
import { rotateGrantKeyFile } from '../src/grants/grant-keys.ts';
import { openCliDatabase } from './cli-database.ts';

const usage = 'usage: rotate-keys [--session] [--grant]';
const args = process.argv.slice(2);
if (args.some((a) => a !== '--session' && a !== '--grant')) {
  console.error(usage);
  process.exit(2);
}
const both = args.length === 0;
const session = both || args.includes('--session');
const grant = both || args.includes('--grant');

const { db, config } = await openCliDatabase('rotate-keys');
let code = 0;
try {
  if (session) {
    if (config.users.sessionKey) {
      console.error('rotate-keys: MASTER_SESSION_KEY is set; the session key is not a file to rotate');
      code = 1;
    } else {
      const r = await rotateSessionKeyFile(config.users.sessionKeyFile);
      console.log(
        `session key: ${r.kid} signs from the next start; ${r.dropped ? `sessions of ${r.dropped} end` : 'no key dropped'}`,
      );
    }
  }
  if (grant) {
    const r = await rotateGrantKeyFile(db.prisma, config.grantKeyFile, config.grantTtlS);
    console.log(
      `grant key: ${r.kid} published, signs from the next start; withdrawn: ${r.withdrawn.join(', ') || 'none'}`,
    );
  }
  console.log('restart the master (every replica) to sign with the new keys');
} catch (err) {
  console.error(`rotate-keys: ${(err as Error).message}`);
  code = 1;
} finally {
  await db.close();
}
process.exit(code);
