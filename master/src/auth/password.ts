/**
 * User passwords. Unlike machine secrets these are chosen by people and can be guessed, so the
 * hash is deliberately expensive: scrypt N=2^16, r=8, p=2 (64 MiB and a few hundred ms per
 * check; one of OWASP's recommended scrypt settings). At most two checks run at once, which
 * bounds the memory a burst of logins can take; the login rate limit stops guessing earlier.
 */
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '@cctv/protocol';
import { Semaphore } from '../semaphore.ts';
import { hashSecret, type ScryptParams, verifySecret } from './secret-hash.ts';

export const PASSWORD_PARAMS: ScryptParams = { N: 2 ** 16, r: 8, p: 2 };
// Two checks at once take 128 MiB at most, whatever a burst of sign-ins asks for.
const checks = new Semaphore(2);

export class PasswordPolicyError extends Error {
  readonly code = 'WEAK_PASSWORD';
}

/** Throws PasswordPolicyError naming the rule a new password breaks. */
export function checkPasswordPolicy(password: string, username: string): void {
  if (password.length < PASSWORD_MIN_LENGTH)
    throw new PasswordPolicyError(`the password must have at least ${PASSWORD_MIN_LENGTH} characters`);
  if (password.length > PASSWORD_MAX_LENGTH)
    throw new PasswordPolicyError(`the password may have at most ${PASSWORD_MAX_LENGTH} characters`);
  if (password.toLowerCase().includes(username.toLowerCase()))
    throw new PasswordPolicyError('the password must not contain the username');
  if (new Set(password).size < 5)
    throw new PasswordPolicyError('the password must not repeat a few characters');
}

export function hashPassword(password: string): Promise<string> {
  return checks.run(() => hashSecret(password, PASSWORD_PARAMS));
}

export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return checks.run(() => verifySecret(password, stored));
}

let dummy: Promise<string> | null = null;

/**
 * Spends the time of a real check when the username is unknown or disabled, so the answer's
 * timing does not tell which usernames exist.
 */
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword('not a password of anyone');
  await verifyPassword(password, await dummy);
  return false;
}
