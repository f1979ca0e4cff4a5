/**
 * Single-use enrolment tokens for the one-line install (docs/adr/0016). A token is 256 random
 * bits shown once, in the install line; `EnrolmentToken` keeps only its sha256 (256 random bits
 * need no slow hash). `check` looks without using; `burn` uses it once, atomically: of two
 * enrolments racing with one token, one wins and the other is told it was used.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';

export type TokenRefusal = 'TOKEN_UNKNOWN' | 'TOKEN_USED' | 'TOKEN_EXPIRED';

export class InstallTokenError extends Error {
  constructor(
    readonly code: TokenRefusal,
    message: string,
    /** The token's row, when the master knows the token. */
    readonly row: TokenRow | null = null,
  ) {
    super(message);
  }
}

export interface TokenRow {
  id: string;
  nodeId: string;
  expiresAt: Date;
  createdBy: string;
  usedAt: Date | null;
  usedFrom: string | null;
}

/** `EnrolmentToken` rows. */
export class EnrolmentTokenRepository {
  constructor(private readonly db: PrismaClient) {}

  async create(row: {
    tokenHash: string;
    nodeId: string;
    expiresAt: Date;
    createdBy: string;
    createdAt: Date;
  }) {
    return (await this.db.enrolmentToken.create({ data: row, select: { id: true } })).id;
  }

  find(tokenHash: string): Promise<TokenRow | null> {
    return this.db.enrolmentToken.findUnique({
      where: { tokenHash },
      select: { id: true, nodeId: true, expiresAt: true, createdBy: true, usedAt: true, usedFrom: true },
    });
  }

  /** Marks the token used unless it was already, or has expired; false when it was not marked. */
  async burn(id: string, at: Date, from: string): Promise<boolean> {
    const { count } = await this.db.enrolmentToken.updateMany({
      where: { id, usedAt: null, expiresAt: { gt: at } },
      data: { usedAt: at, usedFrom: from },
    });
    return count === 1;
  }
}

/** What `EnrolmentToken.tokenHash` holds for a token. */
export function hashInstallToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const ASK_AGAIN = 'ask the master for a new install line';

export class EnrolmentTokens {
  constructor(
    private readonly repo: EnrolmentTokenRepository,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A new token for `nodeId`, valid `ttlMinutes`; the token is returned once, never stored. */
  async issue(
    nodeId: string,
    ttlMinutes: number,
    createdBy: string,
  ): Promise<{ id: string; token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const expiresAt = new Date(createdAt.getTime() + ttlMinutes * 60_000);
    const id = await this.repo.create({
      tokenHash: hashInstallToken(token),
      nodeId,
      expiresAt,
      createdBy,
      createdAt,
    });
    return { id, token, expiresAt };
  }

  /** The token's row when it may still be used; throws InstallTokenError otherwise. */
  async check(token: string): Promise<TokenRow> {
    const row = await this.repo.find(hashInstallToken(token));
    if (!row)
      throw new InstallTokenError(
        'TOKEN_UNKNOWN',
        `the master does not know this install token (mistyped, altered, or from another master): ${ASK_AGAIN}`,
      );
    if (row.usedAt)
      throw new InstallTokenError(
        'TOKEN_USED',
        `this install token was already used (${row.usedAt.toISOString()}); it works once: ${ASK_AGAIN}`,
        row,
      );
    if (row.expiresAt <= this.now())
      throw new InstallTokenError(
        'TOKEN_EXPIRED',
        `this install token expired at ${row.expiresAt.toISOString()}: ${ASK_AGAIN}`,
        row,
      );
    return row;
  }

  /** Uses the token once, from address `from`; throws InstallTokenError when it may not be. */
  async burn(token: string, from: string): Promise<TokenRow> {
    const row = await this.check(token);
    if (!(await this.repo.burn(row.id, this.now(), from)))
      // Used (or expired) between the check and now: the check says which.
      await this.check(token);
    return row;
  }
}
