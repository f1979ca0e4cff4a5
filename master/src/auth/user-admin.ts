/**
 * The admin's (and the CLI's) user management: creating, changing and listing users, and the
 * first admin on an empty database. Every change is audited; a changed user's sessions end.
 */
import { randomBytes } from 'node:crypto';
import type { CameraAccess, Role, UserView } from '@cctv/protocol';
import { type AccountDeps, type Actor, byWhom } from './account-types.ts';
import { checkPasswordPolicy, hashPassword } from './password.ts';
import { type UserChange, UserError } from './user-repository.ts';

export class UserAdministration {
  constructor(private readonly deps: AccountDeps) {}

  /** Creates a user; `actor` null means the CLI or the first start. */
  async create(
    actor: Actor | null,
    u: { username: string; password: string; role: Role; cameras: CameraAccess },
  ): Promise<UserView> {
    const username = u.username.toLowerCase();
    checkPasswordPolicy(u.password, username);
    const view = await this.deps.users.create({
      username,
      passwordHash: await hashPassword(u.password),
      role: u.role,
      cameras: u.cameras,
    });
    await this.deps.audit.record({
      action: 'user_create',
      ...byWhom(actor),
      detail: { user: view.username, role: view.role, cameras: view.cameras },
    });
    return view;
  }

  async update(
    actor: Actor | null,
    id: string,
    change: { role?: Role; cameras?: CameraAccess; disabled?: boolean; password?: string },
  ): Promise<UserView> {
    const existing = await this.deps.users.view(id);
    const { password, ...rest } = change;
    const stored: UserChange = { ...rest };
    if (password !== undefined) {
      checkPasswordPolicy(password, existing?.username ?? '');
      stored.passwordHash = await hashPassword(password);
    }
    const view = await this.deps.users.update(id, stored);
    this.deps.sessionsEnded(id);
    await this.deps.audit.record({
      action: 'user_update',
      ...byWhom(actor),
      detail: { user: view.username, ...rest, ...(password !== undefined ? { password: 'changed' } : {}) },
    });
    return view;
  }

  /** Ends every session of a user at once ("log out everywhere", asked by an admin). */
  async endSessions(actor: Actor | null, id: string): Promise<void> {
    const existing = await this.deps.users.view(id);
    if (!existing) throw new UserError('UNKNOWN_USER', `user ${id} is unknown`);
    await this.deps.users.endSessions(id, this.deps.now());
    this.deps.sessionsEnded(id);
    await this.deps.audit.record({
      action: 'user_sessions_end',
      ...byWhom(actor),
      detail: { user: existing.username },
    });
  }

  list(): Promise<UserView[]> {
    return this.deps.users.list();
  }

  /**
   * With no user at all, makes the first admin: with `password` when given (an installer's
   * secret), else a random one returned to be shown once. Null when users already exist.
   */
  async ensureFirstAdmin(password: string | null): Promise<{ username: string; password: string } | null> {
    if ((await this.deps.users.count()) > 0) return null;
    const secret = password ?? randomBytes(18).toString('base64url');
    try {
      await this.create(null, { username: 'admin', password: secret, role: 'admin', cameras: 'all' });
    } catch (err) {
      // Another replica made it first.
      if ((err as { code?: string }).code === 'USERNAME_TAKEN') return null;
      throw err;
    }
    this.deps.log.info('first admin account created');
    return { username: 'admin', password: secret };
  }
}
