/**
 * The Ed25519 key that signs footage grants. Made once, on the first start, and shared by the
 * master replicas through the database: the private half in `MasterSetting` (master only), the
 * public half in `GrantKey`, the one table of it the storage gateway reads. A gateway therefore
 * verifies grants but can never make one.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';

const KEY_SETTING = 'grant-signing-key';

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

/** The signing key, made and published on the first start (the first replica's wins). */
export async function loadGrantKey(db: PrismaClient): Promise<GrantSigningKey> {
  await db.masterSetting.createMany({
    data: [{ key: KEY_SETTING, value: JSON.stringify(newKey()) }],
    skipDuplicates: true,
  });
  const row = await db.masterSetting.findUniqueOrThrow({ where: { key: KEY_SETTING } });
  const stored = JSON.parse(row.value) as StoredKey;
  // Published on every start, so a public row lost (or a fresh GrantKey table) comes back.
  await db.grantKey.createMany({ data: [{ id: stored.kid, publicKey: stored.x }], skipDuplicates: true });
  return {
    kid: stored.kid,
    privateKey: createPrivateKey({ key: Buffer.from(stored.pkcs8, 'base64'), format: 'der', type: 'pkcs8' }),
  };
}
