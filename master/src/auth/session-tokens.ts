/**
 * Sessions are JWTs (HS256) carried in an httpOnly cookie, or as a bearer token by API
 * clients. The token names the user, the user's `sessionVersion` and its `Session` row (`jti`);
 * every request checks all three against the database, so signing out, a password change, a
 * role change or disabling ends a session at once, while the signature spares a database
 * lookup per request for forged tokens.
 *
 * The signing key is `MASTER_SESSION_KEY` when set, otherwise 32 random bytes kept in the
 * `MasterSetting` table: master replicas on one database share it without configuration.
 */
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';
import { errors, jwtVerify, SignJWT } from 'jose';

const ISSUER = 'cctv-master';
const KEY_SETTING = 'session-signing-key';

export interface SessionClaims {
  userId: string;
  version: number;
  /** The `Session` row. */
  sessionId: string;
  expiresAt: Date;
}

/** The signing key: the configured one, or the one stored (made once) in the database. */
export async function loadSessionKey(db: PrismaClient, configured: string | null): Promise<Uint8Array> {
  if (configured) return new TextEncoder().encode(configured);
  await db.masterSetting.createMany({
    data: [{ key: KEY_SETTING, value: randomBytes(32).toString('base64') }],
    skipDuplicates: true,
  });
  const row = await db.masterSetting.findUniqueOrThrow({ where: { key: KEY_SETTING } });
  return Buffer.from(row.value, 'base64');
}

export class SessionTokens {
  constructor(
    private readonly key: Uint8Array,
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
      .setProtectedHeader({ alg: 'HS256' })
      .setJti(sessionId)
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.ttlS)
      .sign(this.key);
    return { token, expiresAt };
  }

  /** The claims of a valid, unexpired token; null for anything else (never throws on input). */
  async verify(token: string): Promise<SessionClaims | null> {
    if (token.length > 4096) return null;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        currentDate: this.now(),
      });
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
