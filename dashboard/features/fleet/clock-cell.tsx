import type { HeartbeatMessage } from '@cctv/protocol';
import { formatAge } from '@/lib/format';
import { clockFigures, clockSkewed, formatClockOffset } from './clock-offset';

/** A measurement older than this is shown with its age: the node's clock may have moved since. */
const OLD_MEASUREMENT_MS = 5 * 60_000;

/**
 * The node's clock against the master's: the offset, highlighted past `CLOCK_SKEW_WARN_MS`,
 * and below it whatever makes it less trustworthy (host not synchronised, an old measurement).
 */
export function ClockCell({ heartbeat, now }: { heartbeat: HeartbeatMessage | null; now: number | null }) {
  const c = clockFigures(heartbeat);
  if (!c)
    return (
      <td className="num" data-testid="cell-clock" data-value="" data-label="Clock">
        —
      </td>
    );
  const skewed = clockSkewed(c.offsetMs);
  const old = now !== null && !Number.isNaN(c.measuredAt) && now - c.measuredAt > OLD_MEASUREMENT_MS;
  const detail = [
    `round trip ${Math.round(c.rttMs)} ms`,
    c.source ? `${c.source}: ${c.synced ? 'synchronised' : 'not synchronised'}` : 'host sync unknown',
  ].join(', ');
  return (
    <td
      className={`num${skewed ? ' fleet-warn' : ''}`}
      data-testid="cell-clock"
      data-value={c.offsetMs}
      data-skewed={skewed}
      data-label="Clock"
      title={detail}
    >
      {formatClockOffset(c.offsetMs)}
      {c.synced === false ? <div className="sub">host not synced</div> : null}
      {old ? (
        <div className="sub">measured {formatAge(new Date(c.measuredAt).toISOString(), now)}</div>
      ) : null}
    </td>
  );
}
