/**
 * Issues footage grants (see protocol/src/grants.ts): one user, one camera, one range, a few
 * minutes. The routes that issue them check the user's camera access and write the audit row
 * first; this part only signs.
 */
import {
  GRANT_ALGORITHM,
  GRANT_AUDIENCE,
  GRANT_ISSUER,
  type GrantClaims,
  type GrantScope,
} from '@cctv/protocol';
import { SignJWT } from 'jose';
import type { GrantSigningKey } from './grant-keys.ts';

export interface GrantRequest {
  userId: string;
  cameraId: string;
  scope: GrantScope;
  from: Date;
  to: Date;
  /** Another life than the configured one (an export reading for up to an hour). */
  ttlS?: number;
  /**
   * When it counts from (default now): a notification's snapshot link counts from the delivery,
   * so every attempt carries the same token (EdDSA signatures are deterministic).
   */
  issuedAt?: Date;
}

export interface IssuedGrant {
  token: string;
  expiresAt: Date;
}

/** A live grant reaches back this far, so the segments already in the live window play. */
export const LIVE_LOOKBACK_MS = 60_000;

export class GrantIssuer {
  constructor(
    private readonly key: GrantSigningKey,
    /** How long a grant works, in seconds (`MASTER_GRANT_TTL_S`). */
    readonly ttlS: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async issue(r: GrantRequest): Promise<IssuedGrant> {
    const iat = Math.floor((r.issuedAt ?? this.now()).getTime() / 1000);
    const exp = iat + (r.ttlS ?? this.ttlS);
    const claims: Pick<GrantClaims, 'cam' | 'scp' | 'rng'> = {
      cam: r.cameraId,
      scp: r.scope,
      rng: [r.from.getTime(), r.to.getTime()],
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: GRANT_ALGORITHM, kid: this.key.kid })
      .setIssuer(GRANT_ISSUER)
      .setAudience(GRANT_AUDIENCE)
      .setSubject(r.userId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** A live view's grant: from shortly before now until the grant expires. */
  live(userId: string, cameraId: string): Promise<IssuedGrant> {
    const now = this.now().getTime();
    return this.issue({
      userId,
      cameraId,
      scope: 'live',
      from: new Date(now - LIVE_LOOKBACK_MS),
      to: new Date(now + this.ttlS * 1000),
    });
  }
}

const HOUR_MS = 3600_000;
const MAX_CACHED = 10_000;

/**
 * Snapshot grants for event views, one per user, camera and hour of event starts, reused until
 * half their life has passed: a page of fifty events, or events pushed live to a dashboard, cost
 * a signature per camera and hour, not one per event.
 */
export class SnapshotGrants {
  private readonly cache = new Map<string, Promise<IssuedGrant>>();

  constructor(
    private readonly issuer: GrantIssuer,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async token(userId: string, cameraId: string, startedAt: Date): Promise<string> {
    const hour = Math.floor(startedAt.getTime() / HOUR_MS) * HOUR_MS;
    const key = `${userId}|${cameraId}|${hour}`;
    const cached = this.cache.get(key);
    if (cached) {
      const grant = await cached.catch(() => null);
      if (grant && grant.expiresAt.getTime() - this.now().getTime() > (this.issuer.ttlS * 1000) / 2)
        return grant.token;
    }
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    const issued = this.issuer.issue({
      userId,
      cameraId,
      scope: 'snapshot',
      from: new Date(hour),
      to: new Date(hour + HOUR_MS),
    });
    this.cache.set(key, issued);
    return (await issued).token;
  }
}
