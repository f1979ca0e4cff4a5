/**
 * `User`, `UserCamera` and `RecoveryCode` rows. Every change that narrows what a user may do (role, cameras,
 * password, disabling) raises `sessionVersion`, which ends the sessions issued before it.
 */
import { Prisma, type PrismaClient } from '@cctv/db';
import type { CameraAccess, Role, SessionUser, UserView } from '@cctv/protocol';

export class UserError extends Error {
  constructor(
    readonly code: 'USERNAME_TAKEN' | 'UNKNOWN_USER' | 'LAST_ADMIN',
    message: string,
  ) {
    super(message);
  }
}

/** What a request needs to trust a session: the user as now stored. */
export interface StoredUser extends SessionUser {
  disabled: boolean;
  sessionVersion: number;
  /** A second factor is enabled. */
  totpEnabled: boolean;
}

/** The enabled second factor of a user at sign-in. */
export interface StoredTotp {
  secret: string;
  lastStep: number | null;
}

export interface NewUser {
  username: string;
  passwordHash: string;
  role: Role;
  cameras: CameraAccess;
}

export interface UserChange {
  role?: Role;
  cameras?: CameraAccess;
  disabled?: boolean;
  passwordHash?: string;
}

const include = { cameras: { select: { cameraId: true } } } as const;
type Row = Prisma.UserGetPayload<{ include: typeof include }>;

function toStored(row: Row): StoredUser {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    cameras: row.allCameras ? 'all' : row.cameras.map((c) => c.cameraId).sort(),
    disabled: row.disabled,
    sessionVersion: row.sessionVersion,
    totpEnabled: row.totpEnabledAt !== null,
  };
}

function toView(row: Row): UserView {
  const { sessionVersion: _v, ...user } = toStored(row);
  return {
    ...user,
    createdAt: row.createdAt.toISOString(),
    lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
  };
}

const cameraRows = (cameras: CameraAccess) =>
  cameras === 'all' ? [] : cameras.map((cameraId) => ({ cameraId }));

export class UserRepository {
  constructor(private readonly db: PrismaClient) {}

  count(): Promise<number> {
    return this.db.user.count();
  }

  async create(u: NewUser): Promise<UserView> {
    try {
      const row = await this.db.user.create({
        data: {
          username: u.username,
          passwordHash: u.passwordHash,
          role: u.role,
          allCameras: u.cameras === 'all',
          cameras: { create: cameraRows(u.cameras) },
        },
        include,
      });
      return toView(row);
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')
        throw new UserError('USERNAME_TAKEN', `the username ${u.username} is taken`);
      throw err;
    }
  }

  /** The user, password hash and enabled second factor for a login; null for an unknown username. */
  async forLogin(
    username: string,
  ): Promise<(StoredUser & { passwordHash: string; totp: StoredTotp | null }) | null> {
    const row = await this.db.user.findUnique({ where: { username }, include });
    if (!row) return null;
    const totp =
      row.totpEnabledAt !== null && row.totpSecret !== null
        ? { secret: row.totpSecret, lastStep: row.totpLastStep }
        : null;
    return { ...toStored(row), passwordHash: row.passwordHash, totp };
  }

  /** The user's TOTP secret, pending or enabled; null when there is none. */
  async totp(id: string): Promise<(StoredTotp & { enabled: boolean }) | null> {
    const row = await this.db.user.findUnique({
      where: { id },
      select: { totpSecret: true, totpEnabledAt: true, totpLastStep: true },
    });
    if (!row?.totpSecret) return null;
    return { secret: row.totpSecret, lastStep: row.totpLastStep, enabled: row.totpEnabledAt !== null };
  }

  /** Keeps a new pending secret, replacing a pending one; false when a second factor is enabled. */
  async setPendingTotp(id: string, secret: string): Promise<boolean> {
    const r = await this.db.user.updateMany({
      where: { id, totpEnabledAt: null },
      data: { totpSecret: secret, totpLastStep: null },
    });
    return r.count > 0;
  }

  /**
   * Enables the pending `secret` (still the pending one: a setup in between loses), with the
   * step of the code that proved it and fresh recovery codes replacing any old ones.
   */
  async enableTotp(
    id: string,
    secret: string,
    step: number,
    codeHashes: string[],
    at: Date,
  ): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const r = await tx.user.updateMany({
        where: { id, totpSecret: secret, totpEnabledAt: null },
        data: { totpEnabledAt: at, totpLastStep: step },
      });
      if (r.count === 0) return false;
      await tx.recoveryCode.deleteMany({ where: { userId: id } });
      await tx.recoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ userId: id, codeHash })) });
      return true;
    });
  }

  /** Records `step` as the last accepted one; false when it is not later (a replay lost the race). */
  async acceptTotpStep(id: string, step: number): Promise<boolean> {
    const r = await this.db.user.updateMany({
      where: {
        id,
        totpEnabledAt: { not: null },
        OR: [{ totpLastStep: null }, { totpLastStep: { lt: step } }],
      },
      data: { totpLastStep: step },
    });
    return r.count > 0;
  }

  /** The user's recovery codes not used yet. */
  unusedRecoveryCodes(userId: string): Promise<{ id: string; codeHash: string }[]> {
    return this.db.recoveryCode.findMany({
      where: { userId, usedAt: null },
      select: { id: true, codeHash: true },
    });
  }

  /** Marks a recovery code used; false when it was used already (the other sign-in won). */
  async spendRecoveryCode(id: string, at: Date): Promise<boolean> {
    const r = await this.db.recoveryCode.updateMany({ where: { id, usedAt: null }, data: { usedAt: at } });
    return r.count > 0;
  }

  /** Removes the second factor (secret and recovery codes) and ends the user's sessions. */
  async clearTotp(id: string): Promise<UserView> {
    return this.db.$transaction(async (tx) => {
      const current = await tx.user.findUnique({ where: { id }, select: { id: true } });
      if (!current) throw new UserError('UNKNOWN_USER', `user ${id} is unknown`);
      await tx.recoveryCode.deleteMany({ where: { userId: id } });
      const row = await tx.user.update({
        where: { id },
        data: {
          totpSecret: null,
          totpEnabledAt: null,
          totpLastStep: null,
          sessionVersion: { increment: 1 },
        },
        include,
      });
      return toView(row);
    });
  }

  async get(id: string): Promise<StoredUser | null> {
    const row = await this.db.user.findUnique({ where: { id }, include });
    return row ? toStored(row) : null;
  }

  async view(id: string): Promise<UserView | null> {
    const row = await this.db.user.findUnique({ where: { id }, include });
    return row ? toView(row) : null;
  }

  async list(): Promise<UserView[]> {
    const rows = await this.db.user.findMany({ include, orderBy: { username: 'asc' } });
    return rows.map(toView);
  }

  async recordLogin(id: string, at: Date): Promise<void> {
    await this.db.user.update({ where: { id }, data: { lastLoginAt: at } });
  }

  /**
   * Applies a change and ends the user's sessions. Refuses to demote or disable the last
   * enabled admin: nobody could manage users afterwards.
   */
  async update(id: string, change: UserChange): Promise<UserView> {
    return this.db.$transaction(async (tx) => {
      // Serialises admin changes so two concurrent demotions cannot both pass the check.
      await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(4242001)');
      const current = await tx.user.findUnique({ where: { id } });
      if (!current) throw new UserError('UNKNOWN_USER', `user ${id} is unknown`);
      const losesAdmin =
        current.role === 'admin' &&
        !current.disabled &&
        ((change.role !== undefined && change.role !== 'admin') || change.disabled === true);
      if (losesAdmin) {
        const admins = await tx.user.count({ where: { role: 'admin', disabled: false } });
        if (admins <= 1)
          throw new UserError('LAST_ADMIN', 'the last enabled admin cannot be demoted or disabled');
      }
      if (change.cameras !== undefined) {
        await tx.userCamera.deleteMany({ where: { userId: id } });
        if (change.cameras !== 'all')
          await tx.userCamera.createMany({
            data: change.cameras.map((cameraId) => ({ userId: id, cameraId })),
          });
      }
      const row = await tx.user.update({
        where: { id },
        data: {
          ...(change.role !== undefined ? { role: change.role } : {}),
          ...(change.cameras !== undefined ? { allCameras: change.cameras === 'all' } : {}),
          ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
          ...(change.passwordHash !== undefined ? { passwordHash: change.passwordHash } : {}),
          sessionVersion: { increment: 1 },
        },
        include,
      });
      return toView(row);
    });
  }

  /** Ends every session of the user ("log out everywhere"). */
  async endSessions(id: string, at: Date): Promise<void> {
    await this.db.$transaction([
      this.db.user.update({ where: { id }, data: { sessionVersion: { increment: 1 } } }),
      this.db.session.updateMany({ where: { userId: id, revokedAt: null }, data: { revokedAt: at } }),
    ]);
  }

  async createSession(s: { id: string; userId: string; expiresAt: Date; ip: string }): Promise<void> {
    await this.db.session.create({ data: s });
  }

  /**
   * The user of a session that still holds (not revoked, not expired) as now stored, or null.
   * One query: the session row with its user and camera list.
   */
  async forSession(sessionId: string, at: Date): Promise<(StoredUser & { userId: string }) | null> {
    const row = await this.db.session.findUnique({
      where: { id: sessionId },
      include: { user: { include } },
    });
    if (!row || row.revokedAt || row.expiresAt <= at) return null;
    return { ...toStored(row.user), userId: row.userId };
  }

  /** Revokes one session; false when it was not open. */
  async revokeSession(sessionId: string, at: Date): Promise<boolean> {
    const r = await this.db.session.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: at },
    });
    return r.count > 0;
  }

  /** Forgets sessions that ended before `before`. */
  async pruneSessions(before: Date): Promise<number> {
    const r = await this.db.session.deleteMany({ where: { expiresAt: { lt: before } } });
    return r.count;
  }
}
