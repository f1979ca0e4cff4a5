import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeartbeatMessage } from '@cctv/protocol';
import { CLOCK_SKEW_WARN_MS } from '@cctv/protocol/patterns';
import { clockFigures, clockSkewed, formatClockOffset } from '../features/fleet/clock-offset.ts';

describe('clock offset on the fleet page', () => {
  it('formats the offset signed, in a unit that fits', () => {
    assert.equal(formatClockOffset(0), '+0 ms');
    assert.equal(formatClockOffset(349.6), '+350 ms');
    assert.equal(formatClockOffset(-12), '-12 ms');
    assert.equal(formatClockOffset(999.7), '+1.0 s');
    assert.equal(formatClockOffset(-1234), '-1.2 s');
    assert.equal(formatClockOffset(90_200), '+90.2 s');
    assert.equal(formatClockOffset(42 * 60_000), '+42 min');
    assert.equal(formatClockOffset(-5.5 * 3_600_000), '-5.5 h');
    assert.equal(formatClockOffset(3 * 86_400_000), '+3 d');
  });

  it('warns past the protocol threshold, either way', () => {
    assert.equal(CLOCK_SKEW_WARN_MS, 2000);
    assert.equal(clockSkewed(CLOCK_SKEW_WARN_MS), false);
    assert.equal(clockSkewed(CLOCK_SKEW_WARN_MS + 1), true);
    assert.equal(clockSkewed(-(CLOCK_SKEW_WARN_MS + 1)), true);
    assert.equal(clockSkewed(-150), false);
  });

  it('reads the heartbeat clock, its time turned to the master clock; none from older agents', () => {
    const hb = {
      clock: {
        offsetMs: 90_000,
        rttMs: 3,
        measuredAt: '2026-03-01T10:01:30.000Z',
        synced: false,
        source: 'chrony',
      },
    } as HeartbeatMessage;
    assert.deepEqual(clockFigures(hb), {
      offsetMs: 90_000,
      rttMs: 3,
      measuredAt: Date.parse('2026-03-01T10:00:00.000Z'),
      synced: false,
      source: 'chrony',
    });
    assert.equal(clockFigures({} as HeartbeatMessage), null);
    assert.equal(clockFigures(null), null);
  });
});
