/**
 * Sessions are JWTs (HS256) carried in an httpOnly cookie, or as a bearer token by API
 * clients. The token names the user, the user's `sessionVersion` and its `Session` row (`jti`);
 * every request checks all three against the database, so signing out, a password change, a
 * role change or disabling ends a session at once, while the signature spares a database
 * lookup per request for forged tokens.
 *
 * The signing key is `MASTER_SESSION_KEY` when set, otherwise 32 random bytes kept in a file
 * (0600, `MASTER_SESSION_KEY_FILE`) beside the previous key: tokens name their key (`kid`),
 * the current one signs, and both verify, so a rotation (`master/bin/rotate-keys.ts`) keeps
 * the sessions of the key before. Replicas share the file. The key is never in the database;
 * one an older version kept there (`MasterSetting`) is moved to the file once and deleted.
 */
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';
import { readSecretFile, writeSecretFile } from './secret-files.ts';

const ISSUER = 'cctv-master';
/** The `MasterSetting` row where versions before 0011 kept the key. */
const LEGACY_SETTING = 'session-signing-key';

export interface SessionKey {
  kid: string;
  key: Uint8Array;
}

/** The signing key and the one it replaced (whose sessions still verify). */
export interface SessionKeys {
  current: SessionKey;
  previous: SessionKey | null;
}

/** The key file: keys as base64. `rotatedAt`: when `current` replaced `previous`. */
interface SessionKeyFile {
  current: { kid: string; key: string };
  previous: { kid: string; key: string } | null;
  rotatedAt?: string;
}

const newKid = () => randomBytes(6).toString('base64url');
const newFileKey = () => ({ kid: newKid(), key: randomBytes(32).toString('base64') });
const decode = (k: { kid: string; key: string }): SessionKey => ({
  kid: k.kid,
  key: Buffer.from(k.key, 'base64'),
});

/**
 * The signing keys: the configured one, else the key file's, made on the first start (from the
 * key an older version kept in the database, so its sessions stay valid). The database row is
 * deleted either way.
 */
export async function loadSessionKeys(
  db: PrismaClient,
  opts: { configured: string | null; file: string },
): Promise<SessionKeys> {
  if (opts.configured) {
    await db.masterSetting.deleteMany({ where: { key: LEGACY_SETTING } });
    return { current: { kid: 'env', key: new TextEncoder().encode(opts.configured) }, previous: null };
  }
  let stored = await readSecretFile<SessionKeyFile>(opts.file);
  if (!stored) {
    const legacy = await db.masterSetting.findUnique({ where: { key: LEGACY_SETTING } });
    stored = { current: legacy ? { kid: newKid(), key: legacy.value } : newFileKey(), previous: null };
    await writeSecretFile(opts.file, stored);
  }
  await db.masterSetting.deleteMany({ where: { key: LEGACY_SETTING } });
  return { current: decode(stored.current), previous: stored.previous ? decode(stored.previous) : null };
}

/**
 * Makes a new signing key in the file; the current one becomes the previous (its sessions keep
 * working), the previous is dropped (its sessions end). The master uses it from its next start.
 */
export async function rotateSessionKeyFile(file: string): Promise<{ kid: string; dropped: string | null }> {
  const stored = await readSecretFile<SessionKeyFile>(file);
  if (!stored) throw new Error(`${file} does not exist (has the master started once?)`);
  const next: SessionKeyFile = {
    current: newFileKey(),
    previous: stored.current,
    rotatedAt: new Date().toISOString(),
  };
  await writeSecretFile(file, next);
  return { kid: next.current.kid, dropped: stored.previous?.kid ?? null };
}

export interface SessionClaims {
  userId: string;
  version: number;
  /** The `Session` row. */
  sessionId: string;
  expiresAt: Date;
}

export class SessionTokens {
  constructor(
    private readonly keys: SessionKeys,
    /** How long a session lasts, in seconds. */
    readonly ttlS: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A new session id (the token's `jti`, the `Session` row's id). */
  newSessionId(): string {
    return randomBytes(16).toString('base64url');
  }

  async issue(
    userId: string,
    version: number,
    sessionId: string,
  ): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(this.now().getTime() / 1000);
    const expiresAt = new Date((iat + this.ttlS) * 1000);
    const token = await new SignJWT({ ver: version })
      .setProtectedHeader({ alg: 'HS256', kid: this.keys.current.kid })
      .setJti(sessionId)
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlS)
      .sign(this.keys.current.key);
    return { token, expiresAt };
  }

  /** The claims of a valid, unexpired token; null for anything else (never throws on input). */
  async verify(token: string): Promise<SessionClaims | null> {
    if (token.length > 4096) return null;
    try {
      // By its key id; a token from before key ids (the key moved out of the database) is
      // tried against the keys held.
      let kid: string | undefined;
      try {
        ({ kid } = decodeProtectedHeader(token));
      } catch {
        return null; // not a JWS at all
      }
      const held = [this.keys.current, ...(this.keys.previous ? [this.keys.previous] : [])];
      const candidates = kid === undefined ? held : held.filter((k) => k.kid === kid);
      if (candidates.length === 0) return null;
      let verified: Awaited<ReturnType<typeof jwtVerify>> | undefined;
      for (const k of candidates) {
        try {
          verified = await jwtVerify(token, k.key, {
            algorithms: ['HS256'],
            issuer: ISSUER,
            currentDate: this.now(),
          });
          break;
        } catch (err) {
          if (!(err instanceof errors.JWSSignatureVerificationFailed) || k === candidates.at(-1)) throw err;
        }
      }
      if (!verified) return null;
      const { payload } = verified;
      if (
        typeof payload.sub !== 'string' ||
        !Number.isInteger(payload.ver) ||
        typeof payload.exp !== 'number' ||
        typeof payload.jti !== 'string' ||
        payload.jti.length > 64
      )
        return null;
      return {
        userId: payload.sub,
        version: payload.ver as number,
        sessionId: payload.jti,
        expiresAt: new Date(payload.exp * 1000),
      };
    } catch (err) {
      if (err instanceof errors.JOSEError) return null;
      throw err;
    }
  }
}
