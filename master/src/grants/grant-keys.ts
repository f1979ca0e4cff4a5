/**
 * The Ed25519 key that signs footage grants. Made once, on the first start, and kept in a file
 * (0600, `MASTER_GRANT_KEY_FILE`) with the key it replaced; master replicas share the file.
 * The public halves go to `GrantKey`, the one table of it the storage gateway reads: a gateway
 * verifies grants but can never make one, and no database role finds the private key (an
 * older version kept it in `MasterSetting`: moved to the file once and deleted).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';
import { readSecretFile, writeSecretFile } from '../auth/secret-files.ts';

/** The `MasterSetting` row where versions before 0011 kept the key. */
const LEGACY_SETTING = 'grant-signing-key';

export interface GrantSigningKey {
  kid: string;
  privateKey: KeyObject;
}

interface StoredKey {
  kid: string;
  /** PKCS#8 DER, base64. */
  pkcs8: string;
  /** Raw public key, base64url (the JWK `x`). */
  x: string;
}

function newKey(): StoredKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x;
  if (!x) throw new Error('Ed25519 public key without x');
  return {
    kid: randomBytes(8).toString('base64url'),
    pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    x,
  };
}

/** The key file. `rotatedAt`: when `current` replaced `previous`. */
interface GrantKeyFile {
  current: StoredKey;
  previous: StoredKey | null;
  rotatedAt?: string;
}

/** Publishes the public halves the gateway verifies with; on every start, so a lost row comes back. */
async function publish(db: PrismaClient, file: GrantKeyFile): Promise<void> {
  const keys = [file.current, ...(file.previous ? [file.previous] : [])];
  await db.grantKey.createMany({
    data: keys.map((k) => ({ id: k.kid, publicKey: k.x })),
    skipDuplicates: true,
  });
}

/**
 * The signing key from `file`, made on the first start (from the key an older version kept in
 * the database, so grants it signed keep verifying), and published.
 */
export async function loadGrantKey(db: PrismaClient, file: string): Promise<GrantSigningKey> {
  let stored = await readSecretFile<GrantKeyFile>(file);
  if (!stored) {
    const legacy = await db.masterSetting.findUnique({ where: { key: LEGACY_SETTING } });
    stored = { current: legacy ? (JSON.parse(legacy.value) as StoredKey) : newKey(), previous: null };
    await writeSecretFile(file, stored);
  }
  await db.masterSetting.deleteMany({ where: { key: LEGACY_SETTING } });
  await publish(db, stored);
  return {
    kid: stored.current.kid,
    privateKey: createPrivateKey({
      key: Buffer.from(stored.current.pkcs8, 'base64'),
      format: 'der',
      type: 'pkcs8',
    }),
  };
}

/**
 * Makes a new signing key in `file` and publishes its public half at once, so gateways know it
 * before the master (at its next start) signs with it. The current key becomes the previous and
 * stays published, so grants it signed verify until they expire; the key before it, and any
 * other old row, is withdrawn. Refused while the previous key was retired less than `ttlS`
 * ago: grants it signed could still be live.
 */
export async function rotateGrantKeyFile(
  db: PrismaClient,
  file: string,
  ttlS: number,
  now = new Date(),
): Promise<{ kid: string; withdrawn: string[] }> {
  const stored = await readSecretFile<GrantKeyFile>(file);
  if (!stored) throw new Error(`${file} does not exist (has the master started once?)`);
  if (stored.previous && stored.rotatedAt) {
    const waitS = Math.ceil((Date.parse(stored.rotatedAt) + ttlS * 1000 - now.getTime()) / 1000);
    if (waitS > 0)
      throw new Error(
        `the grant key was rotated less than a grant's lifetime ago; grants of the key before may still be in use (wait ${waitS} s)`,
      );
  }
  const next: GrantKeyFile = { current: newKey(), previous: stored.current, rotatedAt: now.toISOString() };
  await publish(db, next);
  await writeSecretFile(file, next);
  const keep = [next.current.kid, stored.current.kid];
  const old = await db.grantKey.findMany({ where: { id: { notIn: keep } }, select: { id: true } });
  await db.grantKey.deleteMany({ where: { id: { notIn: keep } } });
  return { kid: next.current.kid, withdrawn: old.map((r) => r.id) };
}
