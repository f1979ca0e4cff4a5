/**
 * Refused install tokens per client address: past `free` refusals within `windowMs`, the address
 * is refused outright (429) until its oldest refusal leaves the window, so that guessing tokens
 * gets nowhere. Kept in memory: each master replica counts on its own.
 */
export class RefusalWindow {
  private readonly refusals = new Map<string, number[]>();
  private sweepAbove = 1000;

  constructor(
    private readonly free = 10,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it may now. */
  waitMs(address: string): number {
    const times = this.recent(address);
    if (times.length < this.free) return 0;
    return (times[times.length - this.free] ?? 0) + this.windowMs - this.now();
  }

  refused(address: string): void {
    const times = this.recent(address);
    times.push(this.now());
    this.refusals.set(address, times);
    // Addresses that stopped trying are dropped now and then, so the map stays small.
    if (this.refusals.size > this.sweepAbove) {
      for (const a of [...this.refusals.keys()]) this.recent(a);
      this.sweepAbove = Math.max(1000, this.refusals.size * 2);
    }
  }

  private recent(address: string): number[] {
    const since = this.now() - this.windowMs;
    const times = (this.refusals.get(address) ?? []).filter((t) => t > since);
    if (times.length === 0) this.refusals.delete(address);
    return times;
  }
}
