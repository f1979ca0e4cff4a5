/**
 * Device cookies (after OWASP's "Slow down online guessing attacks with device cookies"): a
 * successful sign-in leaves a signed cookie naming the username and a random device id. Sign-in
 * attempts carrying a valid one for the username are throttled on their own
 * (`login-throttle.ts`), so a guesser on the same username cannot slow the real user down. The
 * cookie grants nothing by itself: the password is still checked.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const DEVICE_COOKIE = 'cctv_device';
export const DEVICE_COOKIE_MAX_AGE_S = 180 * 86_400;

export class DeviceCookies {
  private readonly key: Buffer;

  constructor(
    sessionKey: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, derived from the session key: the two signatures can never be swapped.
    this.key = createHmac('sha256', sessionKey).update('cctv device cookie v1').digest();
  }

  /** A new cookie value for `username`. */
  issue(username: string): string {
    const device = randomBytes(12).toString('base64url');
    const issued = Math.floor(this.now() / 1000).toString(36);
    return `${device}.${issued}.${this.mac(username, device, issued)}`;
  }

  /** The device id of a valid, unexpired cookie issued for `username`, or null. */
  verify(value: string | null, username: string): string | null {
    if (!value || value.length > 200) return null;
    const [device, issued, mac, extra] = value.split('.');
    if (!device || !issued || !mac || extra !== undefined) return null;
    const issuedS = Number.parseInt(issued, 36);
    if (!Number.isFinite(issuedS) || this.now() / 1000 - issuedS > DEVICE_COOKIE_MAX_AGE_S) return null;
    const want = Buffer.from(this.mac(username, device, issued));
    const got = Buffer.from(mac);
    return want.length === got.length && timingSafeEqual(want, got) ? device : null;
  }

  private mac(username: string, device: string, issued: string): string {
    return createHmac('sha256', this.key).update(`${username}|${device}|${issued}`).digest('base64url');
  }
}
