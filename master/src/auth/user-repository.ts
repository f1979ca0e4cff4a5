/**
 * `User` and `UserCamera` rows. Every change that narrows what a user may do (role, cameras,
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

  /** The user and password hash for a login; null for an unknown username. */
  async forLogin(username: string): Promise<(StoredUser & { passwordHash: string }) | null> {
    const row = await this.db.user.findUnique({ where: { username }, include });
    return row ? { ...toStored(row), passwordHash: row.passwordHash } : null;
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
