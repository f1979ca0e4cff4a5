/**
 * The accounts' second factor (TOTP with recovery codes): checking one at sign-in, a user
 * enrolling and removing their own, an admin resetting one. The codes themselves are
 * second-factor.ts; sign-in is accounts.ts.
 */
import type { Role, TotpEnabled, TotpSetup, UserView } from '@cctv/protocol';
import {
  type AccountDeps,
  type Actor,
  byWhom,
  type SecondFactorInput,
  type TotpDisableResult,
} from './account-types.ts';
import type { Attempt } from './login-throttle.ts';
import { verifyPassword } from './password.ts';
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

export class TotpAccounts {
  constructor(
    private readonly deps: AccountDeps,
    /** Roles that must sign in with a second factor, as now configured. */
    private readonly requiredRoles: () => ReadonlySet<Role>,
  ) {}

  /**
   * A TOTP code (a step later than the last accepted one, recorded as the new last) or an
   * unused recovery code (spent by this check). Concurrent sign-ins with the same code: one wins.
   */
  async check(
    userId: string,
    totp: { secret: string; lastStep: number | null },
    second: SecondFactorInput,
  ): Promise<
    | { ok: true; factor: 'totp' | 'recovery_code' }
    | { ok: false; factor: 'totp' | 'recovery_code'; reason: string }
  > {
    if (second.totp !== undefined) {
      // Checked without the last step first, so the audit log tells a replay from a guess.
      const step = await acceptedStep(totp.secret, second.totp, null, this.deps.now().getTime());
      if (step === null) return { ok: false, factor: 'totp', reason: 'wrong_totp' };
      const later = totp.lastStep === null || step > totp.lastStep;
      if (!later || !(await this.deps.users.acceptTotpStep(userId, step)))
        return { ok: false, factor: 'totp', reason: 'replayed_totp' };
      return { ok: true, factor: 'totp' };
    }
    const typed = second.recoveryCode ?? '';
    const id = await matchRecoveryCode(typed, await this.deps.users.unusedRecoveryCodes(userId));
    if (id === null || !(await this.deps.users.spendRecoveryCode(id, this.deps.now())))
      return { ok: false, factor: 'recovery_code', reason: 'wrong_recovery_code' };
    return { ok: true, factor: 'recovery_code' };
  }

  /**
   * A new TOTP secret for the actor, pending until `totpEnable` gets a code of it; replaces a
   * pending one. Null when a second factor is enabled already (disable it first).
   */
  async setup(actor: Actor): Promise<TotpSetup | null> {
    const secret = newTotpSecret();
    if (!(await this.deps.users.setPendingTotp(actor.user.id, secret))) return null;
    const url = otpauthUrl(secret, actor.user.username);
    return { secret, otpauthUrl: url, qrDataUrl: await qrDataUrl(url) };
  }

  /**
   * Enables the pending secret when `code` is one of its current codes (that code's step is
   * then used up), with ten new recovery codes returned this once.
   */
  async enable(actor: Actor, code: string): Promise<TotpEnabled | 'not_set_up' | 'wrong_code'> {
    const pending = await this.deps.users.totp(actor.user.id);
    if (!pending || pending.enabled) return 'not_set_up';
    const step = await acceptedStep(pending.secret, code, null, this.deps.now().getTime());
    if (step === null) return 'wrong_code';
    const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const hashes = await Promise.all(recoveryCodes.map(hashRecoveryCode));
    if (!(await this.deps.users.enableTotp(actor.user.id, pending.secret, step, hashes, this.deps.now())))
      return 'not_set_up';
    await this.deps.audit.record({
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
  async disable(actor: Actor, proof: { code?: string; password?: string }): Promise<TotpDisableResult> {
    const attempt: Attempt = { key: actor.user.id, address: actor.ip, device: null };
    const refused = async (reason: string, extra: Record<string, unknown> = {}) =>
      this.deps.audit.record({
        action: 'totp_disable_failed',
        userId: actor.user.id,
        username: actor.user.username,
        ip: actor.ip,
        detail: { reason, ...extra },
      });
    const waitMs = this.deps.guards.passwordChanges.waitMs(attempt);
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      if (this.deps.guards.passwordChanges.shouldAudit(attempt))
        await refused('rate_limited', { retryAfterS });
      return { retryAfterS };
    }
    const user = await this.deps.users.forLogin(actor.user.username);
    if (!user?.totp) return 'not_enabled';
    if (this.requiredRoles().has(user.role)) return 'required';
    if (proof.code !== undefined) {
      const checked = await this.check(user.id, user.totp, { totp: proof.code });
      if (!checked.ok) {
        this.deps.guards.passwordChanges.fail(attempt);
        await refused(checked.reason);
        return 'wrong_code';
      }
    } else if (!(await verifyPassword(proof.password ?? '', user.passwordHash))) {
      this.deps.guards.passwordChanges.fail(attempt);
      await refused('wrong_password');
      return 'wrong_password';
    }
    await this.deps.users.clearTotp(user.id);
    this.deps.sessionsEnded(user.id);
    await this.deps.audit.record({
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
  async reset(actor: Actor | null, id: string): Promise<UserView> {
    const view = await this.deps.users.clearTotp(id);
    this.deps.sessionsEnded(id);
    await this.deps.audit.record({
      action: 'totp_reset',
      ...byWhom(actor),
      detail: { user: view.username },
    });
    return view;
  }
}
