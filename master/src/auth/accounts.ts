/**
 * User accounts as one service: logins (rate-limited, audited), sessions, and the admin's
 * user management. HTTP routes and the CLI call this; it owns no HTTP or cookie details.
 */
import { randomBytes } from 'node:crypto';
import type { CameraAccess, Role, SessionUser, UserView } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.ts';
import type { LoginLimiter } from './login-limiter.ts';
import { checkPasswordPolicy, hashPassword, verifyNothing, verifyPassword } from './password.ts';
import type { SessionTokens } from './session-tokens.ts';
import type { StoredUser, UserChange, UserRepository } from './user-repository.ts';

export type LoginResult =
  | { ok: true; user: SessionUser; token: string; expiresAt: Date }
  | { ok: false; reason: 'bad_credentials' }
  | { ok: false; reason: 'rate_limited'; retryAfterS: number };

export interface Actor {
  user: SessionUser;
  ip: string;
}

const toSession = (u: StoredUser): SessionUser => ({
  id: u.id,
  username: u.username,
  role: u.role,
  cameras: u.cameras,
});

export class UserAccounts {
  /** Called when a user's sessions end (rights changed, disabled, logged out everywhere). */
  onSessionsEnded: (userId: string) => void = () => {};

  constructor(
    private readonly users: UserRepository,
    private readonly tokens: SessionTokens,
    private readonly limiter: LoginLimiter,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly onLogin: (result: 'ok' | 'bad_credentials' | 'rate_limited') => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  get sessionTtlS(): number {
    return this.tokens.ttlS;
  }

  async login(rawUsername: string, password: string, ip: string): Promise<LoginResult> {
    const username = rawUsername.trim().toLowerCase();
    const retryAfterS = this.limiter.retryAfterS(username, ip);
    if (retryAfterS > 0) {
      this.onLogin('rate_limited');
      await this.audit.record({
        action: 'login_failed',
        userId: null,
        username,
        ip,
        detail: { reason: 'rate_limited', retryAfterS },
      });
      return { ok: false, reason: 'rate_limited', retryAfterS };
    }
    const user = await this.users.forLogin(username);
    const valid =
      user && !user.disabled
        ? await verifyPassword(password, user.passwordHash)
        : await verifyNothing(password);
    if (!user || user.disabled || !valid) {
      this.limiter.fail(username, ip);
      this.onLogin('bad_credentials');
      const reason = !user ? 'unknown_user' : user.disabled ? 'disabled' : 'wrong_password';
      await this.audit.record({
        action: 'login_failed',
        userId: user?.id ?? null,
        username,
        ip,
        detail: { reason },
      });
      return { ok: false, reason: 'bad_credentials' };
    }
    this.limiter.succeed(username);
    const { token, expiresAt } = await this.tokens.issue(user.id, user.sessionVersion);
    await this.users.recordLogin(user.id, this.now());
    await this.audit.record({ action: 'login', userId: user.id, username, ip });
    this.onLogin('ok');
    return { ok: true, user: toSession(user), token, expiresAt };
  }

  /** The user a session token belongs to, as now stored; null when it no longer holds. */
  async authenticate(token: string): Promise<SessionUser | null> {
    const claims = await this.tokens.verify(token);
    if (!claims) return null;
    const user = await this.users.get(claims.userId);
    if (!user || user.disabled || user.sessionVersion !== claims.version) return null;
    return toSession(user);
  }

  async logout(actor: Actor, everywhere: boolean): Promise<void> {
    if (everywhere) {
      await this.users.endSessions(actor.user.id);
      this.onSessionsEnded(actor.user.id);
    }
    await this.audit.record({
      action: 'logout',
      userId: actor.user.id,
      username: actor.user.username,
      ip: actor.ip,
      detail: { everywhere },
    });
  }

  /** Changes the actor's own password; false when the current one is wrong. */
  async changePassword(actor: Actor, current: string, next: string): Promise<boolean> {
    const user = await this.users.forLogin(actor.user.username);
    if (!user || !(await verifyPassword(current, user.passwordHash))) return false;
    checkPasswordPolicy(next, user.username);
    await this.users.update(user.id, { passwordHash: await hashPassword(next) });
    this.onSessionsEnded(user.id);
    await this.audit.record({
      action: 'password_change',
      userId: user.id,
      username: user.username,
      ip: actor.ip,
    });
    return true;
  }

  /** Creates a user; `actor` null means the CLI or the first start. */
  async create(
    actor: Actor | null,
    u: { username: string; password: string; role: Role; cameras: CameraAccess },
  ): Promise<UserView> {
    const username = u.username.toLowerCase();
    checkPasswordPolicy(u.password, username);
    const view = await this.users.create({
      username,
      passwordHash: await hashPassword(u.password),
      role: u.role,
      cameras: u.cameras,
    });
    await this.audit.record({
      action: 'user_create',
      userId: actor?.user.id ?? null,
      username: actor?.user.username ?? 'system',
      ip: actor?.ip ?? null,
      detail: { user: view.username, role: view.role, cameras: view.cameras },
    });
    return view;
  }

  async update(
    actor: Actor | null,
    id: string,
    change: { role?: Role; cameras?: CameraAccess; disabled?: boolean; password?: string },
  ): Promise<UserView> {
    const existing = await this.users.view(id);
    const { password, ...rest } = change;
    const stored: UserChange = { ...rest };
    if (password !== undefined) {
      checkPasswordPolicy(password, existing?.username ?? '');
      stored.passwordHash = await hashPassword(password);
    }
    const view = await this.users.update(id, stored);
    this.onSessionsEnded(id);
    await this.audit.record({
      action: 'user_update',
      userId: actor?.user.id ?? null,
      username: actor?.user.username ?? 'system',
      ip: actor?.ip ?? null,
      detail: { user: view.username, ...rest, ...(password !== undefined ? { password: 'changed' } : {}) },
    });
    return view;
  }

  list(): Promise<UserView[]> {
    return this.users.list();
  }

  /**
   * With no user at all, makes the first admin: with `password` when given (an installer's
   * secret), else a random one returned to be shown once. Null when users already exist.
   */
  async ensureFirstAdmin(password: string | null): Promise<{ username: string; password: string } | null> {
    if ((await this.users.count()) > 0) return null;
    const secret = password ?? randomBytes(18).toString('base64url');
    try {
      await this.create(null, { username: 'admin', password: secret, role: 'admin', cameras: 'all' });
    } catch (err) {
      // Another replica made it first.
      if ((err as { code?: string }).code === 'USERNAME_TAKEN') return null;
      throw err;
    }
    this.log.info('first admin account created');
    return { username: 'admin', password: secret };
  }
}
