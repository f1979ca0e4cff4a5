/**
 * The throttles and device cookies the account services share: sign-ins, password changes and
 * second factors each have their own delays (login-throttle.ts).
 */
import { DeviceCookies } from './device-cookie.ts';
import { DEFAULT_THROTTLE, LoginThrottle } from './login-throttle.ts';

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
