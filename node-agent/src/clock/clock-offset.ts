/**
 * The arithmetic of one clock measurement (NTP's, RFC 5905 §8): four timestamps give the
 * offset between the two clocks and the round trip that bounds its error. Pure functions.
 */

/** One exchange: t0, t3 on the agent's clock; t1, t2 on the master's; milliseconds. */
export interface TimeSample {
  /** Agent sent the request. */
  t0: number;
  /** Master received it. */
  t1: number;
  /** Master sent the answer. */
  t2: number;
  /** Agent received the answer. */
  t3: number;
}

export interface ClockOffset {
  /** Agent clock minus master clock: positive when the agent's clock is ahead. */
  offsetMs: number;
  /** Time on the wire both ways (the master's own handling time left out). */
  rttMs: number;
}

/**
 * NTP's offset θ = ((t1 − t0) + (t2 − t3)) / 2 is the master's clock minus the agent's; the
 * heartbeat reports the agent's clock against the master's, −θ. Exact when both legs take as
 * long; otherwise wrong by at most half the round trip.
 */
export function clockOffset(s: TimeSample): ClockOffset {
  return { offsetMs: (s.t0 - s.t1 + (s.t3 - s.t2)) / 2, rttMs: s.t3 - s.t0 - (s.t2 - s.t1) };
}

/**
 * The sample of a burst with the shortest round trip (its offset has the smallest error
 * bound); null when none is usable. A negative round trip means a clock was stepped during
 * the exchange: that sample says nothing.
 */
export function bestOffset(samples: readonly TimeSample[]): ClockOffset | null {
  let best: ClockOffset | null = null;
  for (const s of samples) {
    const o = clockOffset(s);
    if (!Number.isFinite(o.offsetMs) || !(o.rttMs >= 0)) continue;
    if (best === null || o.rttMs < best.rttMs) best = o;
  }
  return best;
}
