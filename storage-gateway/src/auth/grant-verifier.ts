/**
 * Verifies footage grants (protocol/src/grants.ts) before any file is opened or transcode slot
 * taken: the master's Ed25519 signature under a key id published in `GrantKey`, issuer,
 * audience, expiry, and the claims' shape. A player asks for every segment with the same grant,
 * so a verified grant is remembered until it expires: the signature is checked once per grant,
 * not once per request.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';
import {
  GRANT_ALGORITHM,
  GRANT_AUDIENCE,
  GRANT_ISSUER,
  type GrantClaims,
  isGrantShaped,
  validators,
} from '@cctv/protocol';
import { errors, type JWTHeaderParameters, jwtVerify } from 'jose';
import { GatewayError } from '../gateway-error.ts';

/** Why a grant was refused; a metric label. */
export const GRANT_REFUSALS = [
  'grant_required',
  'bad_grant',
  'grant_expired',
  'unknown_key',
  'wrong_camera',
  'wrong_scope',
  'outside_grant',
] as const;
export type GrantRefusal = (typeof GRANT_REFUSALS)[number];

/** A refused grant: 401 when there is no valid grant at all, 403 for a valid grant for something else. */
export class GrantError extends GatewayError<GrantRefusal> {
  constructor(code: GrantRefusal, message: string) {
    super(
      code,
      code === 'wrong_camera' || code === 'wrong_scope' || code === 'outside_grant' ? 403 : 401,
      message,
    );
  }
}

/** Where public keys come from: `GrantKey` rows, written by the master. */
export interface GrantKeySource {
  publicKey(kid: string): Promise<string | null>;
  all(): Promise<{ id: string; publicKey: string }[]>;
}

export function prismaGrantKeys(prisma: PrismaClient): GrantKeySource {
  return {
    async publicKey(kid) {
      const row = await prisma.grantKey.findUnique({ where: { id: kid }, select: { publicKey: true } });
      return row?.publicKey ?? null;
    },
    all: () => prisma.grantKey.findMany({ select: { id: true, publicKey: true } }),
  };
}

export interface GrantVerifierOptions {
  keys: GrantKeySource;
  now?: () => number;
  /** Verified grants remembered at most (the oldest are forgotten first); 0: none. */
  maxCached?: number;
  /** An unknown key id is looked up at most this often (a flood of made-up ids costs nothing). */
  unknownKeyLookupMs?: number;
}

interface Verified {
  claims: GrantClaims;
  expMs: number;
}

const KID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class GrantVerifier {
  private readonly verified = new Map<string, Verified>();
  private readonly keys = new Map<string, KeyObject>();
  private readonly lookups = new Map<string, Promise<KeyObject | null>>();
  private lastMiss = 0;
  private readonly now: () => number;
  private readonly maxCached: number;

  constructor(private readonly opts: GrantVerifierOptions) {
    this.now = opts.now ?? Date.now;
    this.maxCached = opts.maxCached ?? 20_000;
  }

  /** Loads every published key, so a flood of made-up key ids never delays a real one. */
  async preload(): Promise<void> {
    for (const k of await this.opts.keys.all()) this.keys.set(k.id, publicKeyOf(k.publicKey));
  }

  /** The claims of a valid, unexpired grant; throws GrantError otherwise. */
  async verify(token: string): Promise<GrantClaims> {
    const now = this.now();
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expMs > now) return hit.claims;
      this.verified.delete(token);
      throw new GrantError('grant_expired', 'the grant has expired: ask the master for a new one');
    }
    if (!isGrantShaped(token)) throw new GrantError('bad_grant', 'the grant is malformed');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, (header) => this.key(header), {
        algorithms: [GRANT_ALGORITHM],
        issuer: GRANT_ISSUER,
        audience: GRANT_AUDIENCE,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (err) {
      if (err instanceof GrantError) throw err;
      if (err instanceof errors.JWTExpired)
        throw new GrantError('grant_expired', 'the grant has expired: ask the master for a new one');
      if (err instanceof errors.JOSEError || err instanceof TypeError)
        throw new GrantError('bad_grant', 'the grant is not valid');
      throw err;
    }
    if (!validators.grantClaims.check(payload)) throw new GrantError('bad_grant', 'the grant is not valid');
    const claims = payload;
    if (this.maxCached === 0) return claims;
    if (this.verified.size >= this.maxCached) {
      // Forget the oldest tenth; Map keeps insertion order.
      let drop = Math.ceil(this.maxCached / 10);
      for (const key of this.verified.keys()) {
        this.verified.delete(key);
        if (--drop <= 0) break;
      }
    }
    this.verified.set(token, { claims, expMs: claims.exp * 1000 });
    return claims;
  }

  private async key(header: JWTHeaderParameters): Promise<KeyObject> {
    const kid = header.kid;
    if (typeof kid !== 'string' || !KID_RE.test(kid))
      throw new GrantError('bad_grant', 'the grant names no key');
    const known = this.keys.get(kid);
    if (known) return known;
    // Requests under one new key id share one lookup; a lookup that found nothing holds back
    // the next for a while, so made-up key ids cost at most one query per interval.
    let pending = this.lookups.get(kid);
    if (!pending) {
      if (this.now() - this.lastMiss < (this.opts.unknownKeyLookupMs ?? 1000))
        throw new GrantError('unknown_key', 'the grant was signed by a key this gateway does not know');
      pending = this.opts.keys.publicKey(kid).then((x) => (x ? publicKeyOf(x) : null));
      this.lookups.set(kid, pending);
      void pending.finally(() => this.lookups.delete(kid)).catch(() => {});
    }
    const key = await pending;
    if (!key) {
      this.lastMiss = this.now();
      throw new GrantError('unknown_key', 'the grant was signed by a key this gateway does not know');
    }
    this.keys.set(kid, key);
    return key;
  }
}

const publicKeyOf = (x: string): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
