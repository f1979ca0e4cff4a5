/**
 * User accounts as one service: logins (rate-limited, audited), sessions, and the admin's
 * user management. HTTP routes and the CLI call this; it owns no HTTP or cookie details.
 */
import { randomBytes } from 'node:crypto';
import type {
  CameraAccess,
  Role,
  SessionUser,
  SignedInUser,
  TotpEnabled,
  TotpSetup,
  UserView,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AuditLog } from './audit-log.ts';
import { DeviceCookies } from './device-cookie.ts';
import { type Attempt, DEFAULT_THROTTLE, LoginThrottle } from './login-throttle.ts';
import { checkPasswordPolicy, hashPassword, verifyNothing, verifyPassword } from './password.ts';
import {
  acceptedStep,
  hashRecoveryCode,
  matchRecoveryCode,
  newRecoveryCode,
  newTotpSecret,
  otpauthUrl,
  qrDataUrl,
  RECOVERY_CODE_COUNT,
} from './second-factor.ts';
import type { SessionTokens } from './session-tokens.ts';
import type { StoredUser, UserChange, UserRepository } from './user-repository.ts';

export type LoginResult =
  | { ok: true; user: SignedInUser; token: string; expiresAt: Date; deviceCookie: string }
  | { ok: false; reason: 'bad_credentials' }
  /** The password is right; the user's second factor is missing. */
  | { ok: false; reason: 'totp_required' }
  /** The password is right, the code (or recovery code) given is wrong or used already. */
  | { ok: false; reason: 'bad_second_factor'; factor: 'totp' | 'recovery_code' }
  | { ok: false; reason: 'rate_limited'; retryAfterS: number };

export type LoginOutcome = 'ok' | 'bad_credentials' | 'totp_required' | 'bad_second_factor' | 'rate_limited';

/** The second factor given with a sign-in, if any. */
export interface SecondFactorInput {
  totp?: string;
  recoveryCode?: string;
}

export type PasswordChangeResult = 'changed' | 'wrong_password' | { retryAfterS: number };

export type TotpDisableResult =
  | 'disabled'
  | 'wrong_code'
  | 'wrong_password'
  | 'not_enabled'
  /** The user's role needs a second factor (`MASTER_REQUIRE_2FA`). */
  | 'required'
  | { retryAfterS: number };

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
  totpEnabled: boolean;
  /** The role needs a second factor the user has not enabled: the session may only enrol. */
  totpEnrolmentRequired: boolean;
}

export interface AccountGuards {
  /** Sign-in attempts. */
  logins: LoginThrottle;
  /** Wrong current passwords on a password change, wrong codes or passwords disabling TOTP. */
  passwordChanges: LoginThrottle;
  /**
   * Wrong second factors at sign-in, on top of `logins`: whoever sends them knows the password,
   * and a million codes must not be guessable at the few seconds per try `logins` allows a
   * username, so the username's delays grow to the address's (15 min).
   */
  secondFactors: LoginThrottle;
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
    secondFactors: new LoginThrottle({
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
  /** Roles that must sign in with a second factor (`MASTER_REQUIRE_2FA`). */
  totpRequiredRoles: ReadonlySet<Role> = new Set();

  /** Called when a user's sessions end (rights changed, disabled, logged out everywhere). */
  onSessionsEnded: (userId: string) => void = () => {};

  constructor(
    private readonly users: UserRepository,
    private readonly tokens: SessionTokens,
    private readonly guards: AccountGuards,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly onLogin: (result: LoginOutcome) => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {}

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
      const checked = await this.checkSecondFactor(user.id, user.totp, second);
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

  /**
   * A TOTP code (a step later than the last accepted one, recorded as the new last) or an
   * unused recovery code (spent by this check). Concurrent sign-ins with the same code: one wins.
   */
  private async checkSecondFactor(
    userId: string,
    totp: { secret: string; lastStep: number | null },
    second: SecondFactorInput,
  ): Promise<
    | { ok: true; factor: 'totp' | 'recovery_code' }
    | { ok: false; factor: 'totp' | 'recovery_code'; reason: string }
  > {
    if (second.totp !== undefined) {
      // Checked without the last step first, so the audit log tells a replay from a guess.
      const step = await acceptedStep(totp.secret, second.totp, null, this.now().getTime());
      if (step === null) return { ok: false, factor: 'totp', reason: 'wrong_totp' };
      const later = totp.lastStep === null || step > totp.lastStep;
      if (!later || !(await this.users.acceptTotpStep(userId, step)))
        return { ok: false, factor: 'totp', reason: 'replayed_totp' };
      return { ok: true, factor: 'totp' };
    }
    const typed = second.recoveryCode ?? '';
    const id = await matchRecoveryCode(typed, await this.users.unusedRecoveryCodes(userId));
    if (id === null || !(await this.users.spendRecoveryCode(id, this.now())))
      return { ok: false, factor: 'recovery_code', reason: 'wrong_recovery_code' };
    return { ok: true, factor: 'recovery_code' };
  }

  /**
   * A new TOTP secret for the actor, pending until `totpEnable` gets a code of it; replaces a
   * pending one. Null when a second factor is enabled already (disable it first).
   */
  async totpSetup(actor: Actor): Promise<TotpSetup | null> {
    const secret = newTotpSecret();
    if (!(await this.users.setPendingTotp(actor.user.id, secret))) return null;
    const url = otpauthUrl(secret, actor.user.username);
    return { secret, otpauthUrl: url, qrDataUrl: await qrDataUrl(url) };
  }

  /**
   * Enables the pending secret when `code` is one of its current codes (that code's step is
   * then used up), with ten new recovery codes returned this once.
   */
  async totpEnable(actor: Actor, code: string): Promise<TotpEnabled | 'not_set_up' | 'wrong_code'> {
    const pending = await this.users.totp(actor.user.id);
    if (!pending || pending.enabled) return 'not_set_up';
    const step = await acceptedStep(pending.secret, code, null, this.now().getTime());
    if (step === null) return 'wrong_code';
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = await Promise.all(recoveryCodes.map(hashRecoveryCode));
    if (!(await this.users.enableTotp(actor.user.id, pending.secret, step, hashes, this.now())))
      return 'not_set_up';
    await this.audit.record({
      action: 'totp_enable',
      userId: actor.user.id,
      username: actor.user.username,
      ip: actor.ip,
    });
    return { recoveryCodes };
  }

  /**
   * Removes the actor's own second factor, proven by a current code or the password (wrong ones
   * throttled like a password change, and audited); ends every session of the user.
   */
  async totpDisable(actor: Actor, proof: { code?: string; password?: string }): Promise<TotpDisableResult> {
    const attempt: Attempt = { key: actor.user.id, address: actor.ip, device: null };
    const refused = async (reason: string, extra: Record<string, unknown> = {}) =>
      this.audit.record({
        action: 'totp_disable_failed',
        userId: actor.user.id,
        username: actor.user.username,
        ip: actor.ip,
        detail: { reason, ...extra },
      });
    const waitMs = this.guards.passwordChanges.waitMs(attempt);
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      if (this.guards.passwordChanges.shouldAudit(attempt)) await refused('rate_limited', { retryAfterS });
      return { retryAfterS };
    }
    const user = await this.users.forLogin(actor.user.username);
    if (!user?.totp) return 'not_enabled';
    if (this.totpRequiredRoles.has(user.role)) return 'required';
    if (proof.code !== undefined) {
      const checked = await this.checkSecondFactor(user.id, user.totp, { totp: proof.code });
      if (!checked.ok) {
        this.guards.passwordChanges.fail(attempt);
        await refused(checked.reason);
        return 'wrong_code';
      }
    } else if (!(await verifyPassword(proof.password ?? '', user.passwordHash))) {
      this.guards.passwordChanges.fail(attempt);
      await refused('wrong_password');
      return 'wrong_password';
    }
    await this.users.clearTotp(user.id);
    this.onSessionsEnded(user.id);
    await this.audit.record({
      action: 'totp_disable',
      userId: user.id,
      username: user.username,
      ip: actor.ip,
      detail: { proof: proof.code !== undefined ? 'totp' : 'password' },
    });
    return 'disabled';
  }

  /**
   * An admin (or the CLI, `actor` null) removes a user's second factor, e.g. after a lost
   * phone: the user signs in with the password alone (and enrols again where a role needs it).
   * Ends the user's sessions.
   */
  async totpReset(actor: Actor | null, id: string): Promise<UserView> {
    const view = await this.users.clearTotp(id);
    this.onSessionsEnded(id);
    await this.audit.record({
      action: 'totp_reset',
      userId: actor?.user.id ?? null,
      username: actor?.user.username ?? 'system',
      ip: actor?.ip ?? null,
      detail: { user: view.username },
    });
    return view;
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
