/**
 * A node's clock against the master's, as its last heartbeat reported it (`clock`, optional:
 * older agents and agents whose master has not answered yet send none).
 */
import type { HeartbeatMessage } from '@cctv/protocol';
import { CLOCK_SKEW_WARN_MS } from '@cctv/protocol/patterns';

export interface ClockFigures {
  /** The node's clock minus the master's: positive when the node is ahead. */
  offsetMs: number;
  rttMs: number;
  /** When it was measured, on the master's clock (the node's own time corrected by the offset). */
  measuredAt: number;
  /** The host's own time synchronisation; null when unknown. */
  synced: boolean | null;
  source: string | null;
}

export function clockFigures(heartbeat: HeartbeatMessage | null): ClockFigures | null {
  const c = heartbeat?.clock;
  if (!c) return null;
  const at = Date.parse(c.measuredAt);
  return {
    offsetMs: c.offsetMs,
    rttMs: c.rttMs,
    measuredAt: Number.isNaN(at) ? Number.NaN : at - c.offsetMs,
    synced: c.synced,
    source: c.source,
  };
}

/** Over the warning threshold either way. */
export function clockSkewed(offsetMs: number): boolean {
  return Math.abs(offsetMs) > CLOCK_SKEW_WARN_MS;
}

/** `+350 ms`, `-1.2 s`, `+90.2 s`, `+42 min`, `-5.5 h`, `+3 d`: signed, a unit that fits. */
export function formatClockOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const ms = Math.abs(offsetMs);
  if (Math.round(ms) < 1000) return `${sign}${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 600) return `${sign}${s.toFixed(1)} s`;
  if (s < 3 * 3600) return `${sign}${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${sign}${(s / 3600).toFixed(1)} h`;
  return `${sign}${Math.round(s / 86_400)} d`;
}
