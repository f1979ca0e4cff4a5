/** What the account services take and answer (accounts.ts and the parts it delegates to). */
import type { SessionUser, SignedInUser } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AccountGuards } from './account-guards.ts';
import type { AuditLog } from './audit-log.ts';
import type { UserRepository } from './user-repository.ts';

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

/** Who made a change, for the audit log: the actor, or `system` (the CLI, the first start). */
export const byWhom = (actor: Actor | null) => ({
  userId: actor?.user.id ?? null,
  username: actor?.user.username ?? 'system',
  ip: actor?.ip ?? null,
});

/** What every account service works with. */
export interface AccountDeps {
  users: UserRepository;
  guards: AccountGuards;
  audit: AuditLog;
  log: Logger;
  now: () => Date;
  /** Ends every session of a user at once (UserAccounts.onSessionsEnded, read when called). */
  sessionsEnded: (userId: string) => void;
}
