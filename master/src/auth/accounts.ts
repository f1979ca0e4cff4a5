/**
 * User accounts as one service: logins (rate-limited, audited), sessions, and the admin's
 * user management. HTTP routes and the CLI call this; it owns no HTTP or cookie details.
 */
import { randomBytes } from 'node:crypto';
import type { CameraAccess, Role, SessionUser, UserView } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.ts';
import { DeviceCookies } from './device-cookie.ts';
import { type Attempt, DEFAULT_THROTTLE, LoginThrottle } from './login-throttle.ts';
import { checkPasswordPolicy, hashPassword, verifyNothing, verifyPassword } from './password.ts';
import type { SessionTokens } from './session-tokens.ts';
import type { StoredUser, UserChange, UserRepository } from './user-repository.ts';

export type LoginResult =
  | { ok: true; user: SessionUser; token: string; expiresAt: Date; deviceCookie: string }
  | { ok: false; reason: 'bad_credentials' }
  | { ok: false; reason: 'rate_limited'; retryAfterS: number };

export type PasswordChangeResult = 'changed' | 'wrong_password' | { retryAfterS: number };

export interface Actor {
  user: SessionUser;
  ip: string;
  /** The session the request came with. */
  sessionId?: string;
}

/** What a request's session token resolves to. */
export interface Authenticated {
  user: SessionUser;
  sessionId: string;
}

export interface AccountGuards {
  /** Sign-in attempts. */
  logins: LoginThrottle;
  /** Wrong current passwords on a password change. */
  passwordChanges: LoginThrottle;
  devices: DeviceCookies;
}

/** The throttles and device cookies of a master process, keyed from the session key. */
export function accountGuards(sessionKey: Uint8Array): AccountGuards {
  return {
    logins: new LoginThrottle(),
    // Someone with a stolen session guessing its owner's password: the user's own key grows to
    // the address's delays, since the real user knows their password and is not slowed down.
    passwordChanges: new LoginThrottle({
      ...DEFAULT_THROTTLE,
      userMaxDelayMs: DEFAULT_THROTTLE.addressMaxDelayMs,
    }),
    devices: new DeviceCookies(sessionKey),
  };
}

const SESSION_PRUNE_EVERY_MS = 3600_000;

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
    private readonly guards: AccountGuards,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly onLogin: (result: 'ok' | 'bad_credentials' | 'rate_limited') => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  get sessionTtlS(): number {
    return this.tokens.ttlS;
  }

  /**
   * Checks a sign-in. `deviceCookie` is the client's device cookie, if any: valid for this
   * username, it puts the attempt on its own throttle (see login-throttle.ts).
   */
  async login(
    rawUsername: string,
    password: string,
    ip: string,
    deviceCookie: string | null = null,
  ): Promise<LoginResult> {
    const username = rawUsername.trim().toLowerCase();
    const attempt: Attempt = {
      key: username,
      address: ip,
      device: this.guards.devices.verify(deviceCookie, username),
    };
    const waitMs = this.guards.logins.waitMs(attempt);
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      this.onLogin('rate_limited');
      if (this.guards.logins.shouldAudit(attempt))
        await this.audit.record({
          action: 'login_failed',
          userId: null,
          username,
          ip,
          detail: { reason: 'rate_limited', retryAfterS, trustedDevice: attempt.device !== null },
        });
      return { ok: false, reason: 'rate_limited', retryAfterS };
    }
    const user = await this.users.forLogin(username);
    const valid =
      user && !user.disabled
        ? await verifyPassword(password, user.passwordHash)
        : await verifyNothing(password);
    if (!user || user.disabled || !valid) {
      this.guards.logins.fail(attempt);
      this.onLogin('bad_credentials');
      const reason = !user ? 'unknown_user' : user.disabled ? 'disabled' : 'wrong_password';
      await this.audit.record({
        action: 'login_failed',
        userId: user?.id ?? null,
        username,
        ip,
        detail: { reason, trustedDevice: attempt.device !== null },
      });
      return { ok: false, reason: 'bad_credentials' };
    }
    this.guards.logins.succeed(attempt);
    const sessionId = this.tokens.newSessionId();
    const { token, expiresAt } = await this.tokens.issue(user.id, user.sessionVersion, sessionId);
    await this.users.createSession({ id: sessionId, userId: user.id, expiresAt, ip });
    await this.users.recordLogin(user.id, this.now());
    await this.audit.record({ action: 'login', userId: user.id, username, ip });
    this.onLogin('ok');
    void this.pruneSessions();
    return {
      ok: true,
      user: toSession(user),
      token,
      expiresAt,
      deviceCookie: this.guards.devices.issue(username),
    };
  }

  private lastPruneAt = 0;

  /** Forgets sessions that ended a day ago or more, at most once an hour. */
  private async pruneSessions(): Promise<void> {
    const now = this.now().getTime();
    if (now - this.lastPruneAt < SESSION_PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    try {
      await this.users.pruneSessions(new Date(now - 86_400_000));
    } catch (err) {
      this.log.warn({ err }, 'old sessions not pruned');
    }
  }

  /** The user and session a token belongs to, as now stored; null when it no longer holds. */
  async authenticate(token: string): Promise<Authenticated | null> {
    const claims = await this.tokens.verify(token);
    if (!claims) return null;
    const user = await this.users.forSession(claims.sessionId, this.now());
    if (!user || user.userId !== claims.userId || user.disabled || user.sessionVersion !== claims.version)
      return null;
    return { user: toSession(user), sessionId: claims.sessionId };
  }

  /** Ends the actor's session (its token stops working at once), or all of theirs. */
  async logout(actor: Actor, everywhere: boolean): Promise<void> {
    const at = this.now();
    if (everywhere) {
      await this.users.endSessions(actor.user.id, at);
      this.onSessionsEnded(actor.user.id);
    } else if (actor.sessionId) {
      await this.users.revokeSession(actor.sessionId, at);
      this.onSessionEnded(actor.sessionId);
    }
    await this.audit.record({
      action: 'logout',
      userId: actor.user.id,
      username: actor.user.username,
      ip: actor.ip,
      detail: { everywhere },
    });
  }

  /** Called when one session ends (signed out). */
  onSessionEnded: (sessionId: string) => void = () => {};

  /**
   * Changes the actor's own password. A wrong current password is throttled like a sign-in
   * (by user and address) and audited; the change itself ends every session of the user.
   */
  async changePassword(actor: Actor, current: string, next: string): Promise<PasswordChangeResult> {
    const attempt: Attempt = { key: actor.user.id, address: actor.ip, device: null };
    const waitMs = this.guards.passwordChanges.waitMs(attempt);
    const refused = async (reason: string, extra: Record<string, unknown> = {}) =>
      this.audit.record({
        action: 'password_change_failed',
        userId: actor.user.id,
        username: actor.user.username,
        ip: actor.ip,
        detail: { reason, ...extra },
      });
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      if (this.guards.passwordChanges.shouldAudit(attempt)) await refused('rate_limited', { retryAfterS });
      return { retryAfterS };
    }
    const user = await this.users.forLogin(actor.user.username);
    if (!user || !(await verifyPassword(current, user.passwordHash))) {
      this.guards.passwordChanges.fail(attempt);
      await refused('wrong_password');
      return 'wrong_password';
    }
    checkPasswordPolicy(next, user.username);
    await this.users.update(user.id, { passwordHash: await hashPassword(next) });
    await this.users.endSessions(user.id, this.now());
    this.onSessionsEnded(user.id);
    await this.audit.record({
      action: 'password_change',
      userId: user.id,
      username: user.username,
      ip: actor.ip,
    });
    return 'changed';
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
