/**
 * Secrets and their hashes. A secret is 32 random bytes (base64url); its hash is scrypt,
 * stored as a self-describing `scrypt$N$r$p$saltB64$hashB64` so the cost can be raised later
 * without invalidating existing hashes. scrypt is memory-hard on purpose: a leaked table
 * costs an attacker dearly per guess.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

const DEFAULT = { N: 2 ** 15, r: 8, p: 1 } as const;
/**
 * For machine secrets (32 random bytes): 256 bits of entropy cannot be guessed whatever the
 * hash costs, so a light scrypt (1 MiB, ~2 ms) keeps a reconnect storm of 1,000 agents after a
 * master restart to seconds of CPU instead of minutes. The stored hash names its parameters.
 */
export const MACHINE_SECRET_PARAMS = { N: 2 ** 10, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
// scrypt needs 128 * N * r bytes; refuse stored parameters that would need more than this.
const MAX_MEMORY = 256 * 1024 * 1024;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** A new random secret: 32 bytes, base64url (43 characters, no padding). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function derive(
  secret: string | Buffer,
  salt: Buffer,
  keylen: number,
  params: ScryptParams,
): Promise<Buffer> {
  const opts: ScryptOptions = { ...params, maxmem: Math.max(32 * 1024 * 1024, 256 * params.N * params.r) };
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a secret with a fresh salt. */
export async function hashSecret(secret: string, params: ScryptParams = DEFAULT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(secret, salt, KEY_LENGTH, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  key: Buffer;
}

/** Parses a stored hash; null when it is not one this code can check. */
export function parseSecretHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const key = Buffer.from(parts[5] ?? '', 'base64');
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || !Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1 || p > 16) return null;
  if (128 * N * r > MAX_MEMORY || salt.length < 8 || key.length < 16 || key.length > 64) return null;
  return { N, r, p, salt, key };
}

/** True when `secret` matches `stored`; compared in constant time. A malformed hash never matches. */
export async function verifySecret(secret: string | Buffer, stored: string): Promise<boolean> {
  const parsed = parseSecretHash(stored);
  if (!parsed) return false;
  const key = await derive(secret, parsed.salt, parsed.key.length, parsed);
  return timingSafeEqual(key, parsed.key);
}
