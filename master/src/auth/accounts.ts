/**
 * User accounts as one service: logins (rate-limited, audited), sessions and passwords here;
 * the second factor (totp-accounts.ts) and the admin's user management (user-admin.ts) are
 * their own parts, reached through this class. HTTP routes and the CLI call this; it owns no
 * HTTP or cookie details.
 */
import type { Role, SessionUser, SignedInUser } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AccountGuards } from './account-guards.ts';
import type {
  Actor,
  Authenticated,
  LoginOutcome,
  LoginResult,
  PasswordChangeResult,
  SecondFactorInput,
} from './account-types.ts';
import type { AuditLog } from './audit-log.ts';
import type { Attempt } from './login-throttle.ts';
import { checkPasswordPolicy, hashPassword, verifyNothing, verifyPassword } from './password.ts';
import type { SessionTokens } from './session-tokens.ts';
import { TotpAccounts } from './totp-accounts.ts';
import { UserAdministration } from './user-admin.ts';
import type { StoredUser, UserRepository } from './user-repository.ts';

export { type AccountGuards, accountGuards } from './account-guards.ts';
/** What callers pass and get back, from here as before. */
export type * from './account-types.ts';

const SESSION_PRUNE_EVERY_MS = 3600_000;

const toSession = (u: StoredUser): SessionUser => ({
  id: u.id,
  username: u.username,
  role: u.role,
  cameras: u.cameras,
});

export class UserAccounts {
  /** Roles that must sign in with a second factor (`MASTER_REQUIRE_2FA`). */
  totpRequiredRoles: ReadonlySet<Role> = new Set();

  /** Called when a user's sessions end (rights changed, disabled, logged out everywhere). */
  onSessionsEnded: (userId: string) => void = () => {};
  /** Sign-ins held back after repeated failures (for an account, an address or a device). */
  onThrottled: (username: string, address: string, retryAfterS: number) => void = () => {};

  private readonly totp: TotpAccounts;
  private readonly admin: UserAdministration;

  constructor(
    private readonly users: UserRepository,
    private readonly tokens: SessionTokens,
    private readonly guards: AccountGuards,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly onLogin: (result: LoginOutcome) => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {
    const deps = { users, guards, audit, log, now, sessionsEnded: (id: string) => this.onSessionsEnded(id) };
    this.totp = new TotpAccounts(deps, () => this.totpRequiredRoles);
    this.admin = new UserAdministration(deps);
  }

  get sessionTtlS(): number {
    return this.tokens.ttlS;
  }

  private enrolmentRequired(u: { role: Role; totpEnabled: boolean }): boolean {
    return !u.totpEnabled && this.totpRequiredRoles.has(u.role);
  }

  private signedIn(u: StoredUser): SignedInUser {
    return { ...toSession(u), totpEnabled: u.totpEnabled, totpEnrolmentRequired: this.enrolmentRequired(u) };
  }

  /**
   * Checks a sign-in. `deviceCookie` is the client's device cookie, if any: valid for this
   * username, it puts the attempt on its own throttle (see login-throttle.ts). A user with a
   * second factor needs `second` too; a wrong one counts as a failed sign-in.
   */
  async login(
    rawUsername: string,
    password: string,
    ip: string,
    deviceCookie: string | null = null,
    second: SecondFactorInput = {},
  ): Promise<LoginResult> {
    const username = rawUsername.trim().toLowerCase();
    const attempt: Attempt = {
      key: username,
      address: ip,
      device: this.guards.devices.verify(deviceCookie, username),
    };
    const throttled = async (waitMs: number, userId: string | null): Promise<LoginResult> => {
      const retryAfterS = Math.ceil(waitMs / 1000);
      this.onLogin('rate_limited');
      this.onThrottled(username, ip, retryAfterS);
      if (this.guards.logins.shouldAudit(attempt))
        await this.audit.record({
          action: 'login_failed',
          userId,
          username,
          ip,
          detail: { reason: 'rate_limited', retryAfterS, trustedDevice: attempt.device !== null },
        });
      return { ok: false, reason: 'rate_limited', retryAfterS };
    };
    const waitMs = this.guards.logins.waitMs(attempt);
    if (waitMs > 0) return throttled(waitMs, null);
    const user = await this.users.forLogin(username);
    // Wrong second factors hold back the user's sign-ins while it is enabled, before the
    // password is checked: a throttled answer says nothing about the password.
    const factorWaitMs = user?.totp ? this.guards.secondFactors.waitMs(attempt) : 0;
    if (factorWaitMs > 0) return throttled(factorWaitMs, user?.id ?? null);
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
    let factor: Record<string, unknown> = {};
    if (user.totp) {
      if (second.totp === undefined && second.recoveryCode === undefined) {
        this.onLogin('totp_required');
        return { ok: false, reason: 'totp_required' };
      }
      const checked = await this.totp.check(user.id, user.totp, second);
      if (!checked.ok) {
        this.guards.logins.fail(attempt);
        this.guards.secondFactors.fail(attempt);
        this.onLogin('bad_second_factor');
        await this.audit.record({
          action: 'login_failed',
          userId: user.id,
          username,
          ip,
          detail: { reason: checked.reason, trustedDevice: attempt.device !== null },
        });
        return { ok: false, reason: 'bad_second_factor', factor: checked.factor };
      }
      this.guards.secondFactors.succeed(attempt);
      factor = { secondFactor: checked.factor };
    }
    this.guards.logins.succeed(attempt);
    const sessionId = this.tokens.newSessionId();
    const { token, expiresAt } = await this.tokens.issue(user.id, user.sessionVersion, sessionId);
    await this.users.createSession({ id: sessionId, userId: user.id, expiresAt, ip });
    await this.users.recordLogin(user.id, this.now());
    const enrolment = this.enrolmentRequired(user) ? { totpEnrolmentRequired: true } : {};
    await this.audit.record({
      action: 'login',
      userId: user.id,
      username,
      ip,
      ...(user.totp || enrolment.totpEnrolmentRequired ? { detail: { ...factor, ...enrolment } } : {}),
    });
    this.onLogin('ok');
    void this.pruneSessions();
    return {
      ok: true,
      user: this.signedIn(user),
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
    return {
      user: toSession(user),
      sessionId: claims.sessionId,
      totpEnabled: user.totpEnabled,
      totpEnrolmentRequired: this.enrolmentRequired(user),
    };
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

  // --- the second factor (totp-accounts.ts) and user administration (user-admin.ts) -----

  readonly totpSetup = (...a: Parameters<TotpAccounts['setup']>) => this.totp.setup(...a);
  readonly totpEnable = (...a: Parameters<TotpAccounts['enable']>) => this.totp.enable(...a);
  readonly totpDisable = (...a: Parameters<TotpAccounts['disable']>) => this.totp.disable(...a);
  readonly totpReset = (...a: Parameters<TotpAccounts['reset']>) => this.totp.reset(...a);
  readonly create = (...a: Parameters<UserAdministration['create']>) => this.admin.create(...a);
  readonly update = (...a: Parameters<UserAdministration['update']>) => this.admin.update(...a);
  readonly endSessions = (...a: Parameters<UserAdministration['endSessions']>) =>
    this.admin.endSessions(...a);
  readonly list = () => this.admin.list();
  readonly ensureFirstAdmin = (password: string | null) => this.admin.ensureFirstAdmin(password);
}
