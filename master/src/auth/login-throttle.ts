/**
 * Sign-in throttle: growing delays, never a lock the right password cannot pass.
 *
 * - Per client address: past `addressFree` failures (any username) each further attempt from
 *   the address waits, the wait doubling per failure up to `addressMaxDelayMs`. One guessing
 *   machine gets nowhere.
 * - Per username, for clients the username does not trust: past `userFree` failures each further
 *   attempt waits, doubling up to `userMaxDelayMs` — seconds, so that the real user signing in
 *   from a new place while someone else guesses waits seconds at worst, and a guesser spread over
 *   many addresses gets one try per few seconds in all.
 * - A trusted client (a browser holding a device cookie from an earlier successful sign-in as
 *   this username) is judged only by its own failures, so neither a guesser on the same username
 *   nor one behind the same address slows it down.
 *
 * A throttled attempt is refused before its password is checked. Failures are forgotten after
 * `windowMs`. Kept in memory: each master replica throttles on its own.
 */
export interface ThrottleLimits {
  addressFree: number;
  addressMaxDelayMs: number;
  userFree: number;
  userMaxDelayMs: number;
  deviceFree: number;
  deviceMaxDelayMs: number;
  windowMs: number;
  /** The first delay past the free failures; each failure after it doubles it. */
  baseDelayMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  addressFree: 10,
  addressMaxDelayMs: 15 * 60_000,
  userFree: 5,
  userMaxDelayMs: 8_000,
  deviceFree: 5,
  deviceMaxDelayMs: 15 * 60_000,
  windowMs: 15 * 60_000,
  baseDelayMs: 1000,
};

/** Who is trying: the username, the client address, and the device id when the client is trusted. */
export interface Attempt {
  key: string;
  address: string;
  device: string | null;
}

interface Failures {
  count: number;
  lastAt: number;
}

const MAX_KEYS = 100_000;

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly audited = new Map<string, number>();

  constructor(
    private readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds before this attempt may be made; 0 when it may be made now. */
  waitMs(a: Attempt): number {
    const t = this.now();
    const l = this.limits;
    if (a.device) return this.wait(`d:${a.key}:${a.device}`, l.deviceFree, l.deviceMaxDelayMs, t);
    return Math.max(
      this.wait(`a:${a.address}`, l.addressFree, l.addressMaxDelayMs, t),
      this.wait(`u:${a.key}`, l.userFree, l.userMaxDelayMs, t),
    );
  }

  fail(a: Attempt): void {
    const t = this.now();
    if (a.device) {
      this.bump(`d:${a.key}:${a.device}`, t);
      return;
    }
    this.bump(`a:${a.address}`, t);
    this.bump(`u:${a.key}`, t);
  }

  /** The right password: the trusted device starts afresh. Address and username keep theirs. */
  succeed(a: Attempt): void {
    if (a.device) this.failures.delete(`d:${a.key}:${a.device}`);
  }

  /**
   * Whether a refusal of this attempt should be written to the audit log: the first one of each
   * username and address per minute, so a flood of throttled attempts is not a flood of rows.
   */
  shouldAudit(a: Attempt): boolean {
    const key = `${a.key}|${a.address}`;
    const t = this.now();
    const last = this.audited.get(key);
    if (last !== undefined && t - last < 60_000) return false;
    if (this.audited.size >= MAX_KEYS) this.audited.clear();
    this.audited.set(key, t);
    return true;
  }

  private wait(key: string, free: number, maxMs: number, t: number): number {
    const f = this.recent(key, t);
    if (!f || f.count < free) return 0;
    const delay = Math.min(maxMs, this.limits.baseDelayMs * 2 ** Math.min(30, f.count - free));
    return Math.max(0, f.lastAt + delay - t);
  }

  private bump(key: string, t: number): void {
    const f = this.recent(key, t);
    this.failures.set(key, { count: (f?.count ?? 0) + 1, lastAt: t });
    if (this.failures.size > MAX_KEYS) this.prune(t);
  }

  /** The failures of a key, or undefined once the last one is older than the window. */
  private recent(key: string, t: number): Failures | undefined {
    const f = this.failures.get(key);
    if (f && t - f.lastAt >= this.limits.windowMs) {
      this.failures.delete(key);
      return undefined;
    }
    return f;
  }

  /** Drops keys whose last failure left the window (bounds memory under a spray). */
  private prune(t: number): void {
    for (const key of this.failures.keys()) this.recent(key, t);
  }
}
