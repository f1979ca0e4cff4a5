/**
 * Login rate limit: failed attempts counted per username and per client address in a sliding
 * window. Past the limit a login is refused before its password is even checked (so guessing
 * costs the attacker time, not the master CPU), with the seconds until the oldest failure
 * leaves the window. A success clears the username's failures. Kept in memory: each master
 * replica limits on its own, which multiplies the allowance by the replica count at most.
 */
export interface LoginLimits {
  perUser: number;
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perUser: 5, perAddress: 20, windowMs: 15 * 60_000 };
const MAX_KEYS = 100_000;

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when a login may be tried now. */
  retryAfterS(username: string, address: string): number {
    const t = this.now();
    const wait = (key: string, limit: number) => {
      const times = this.recent(key, t);
      if (times.length < limit) return 0;
      const oldest = times[times.length - limit] ?? t;
      return Math.max(1, Math.ceil((oldest + this.limits.windowMs - t) / 1000));
    };
    return Math.max(wait(`u:${username}`, this.limits.perUser), wait(`a:${address}`, this.limits.perAddress));
  }

  fail(username: string, address: string): void {
    const t = this.now();
    for (const key of [`u:${username}`, `a:${address}`]) {
      const times = this.recent(key, t);
      times.push(t);
      this.failures.set(key, times);
    }
    if (this.failures.size > MAX_KEYS) this.prune(t);
  }

  succeed(username: string): void {
    this.failures.delete(`u:${username}`);
  }

  private recent(key: string, t: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((x) => x > t - this.limits.windowMs);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }

  /** Drops keys whose failures have all left the window (bounds memory under a spray). */
  private prune(t: number): void {
    for (const key of this.failures.keys()) this.recent(key, t);
  }
}
