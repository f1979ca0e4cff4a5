import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  eventDurationMs,
  eventEndMs,
  formatDuration,
  formatLocalTime,
  formatScore,
  formatUtcTime,
} from '../features/events/event-format.ts';
import { eventView } from './support/views.ts';

// formatLocalTime writes the browser's zone: a fixed one, west of UTC.
process.env.TZ = 'America/New_York';

describe('event length', () => {
  it('runs to the end of a finished event', () => {
    const e = eventView({ startedAt: '2026-03-01T10:00:00.000Z', endedAt: '2026-03-01T10:01:30.500Z' });
    assert.equal(eventEndMs(e), Date.parse('2026-03-01T10:01:30.500Z'));
    assert.equal(eventDurationMs(e), 90_500);
  });

  it('runs to the newest frame of an open event', () => {
    const e = eventView({
      startedAt: '2026-03-01T10:00:00.000Z',
      endedAt: null,
      lastAt: '2026-03-01T10:00:07.000Z',
    });
    assert.equal(eventDurationMs(e), 7_000);
  });

  it('is never negative', () => {
    const e = eventView({ startedAt: '2026-03-01T10:00:05.000Z', endedAt: '2026-03-01T10:00:00.000Z' });
    assert.equal(eventDurationMs(e), 0);
  });
});

describe('formatDuration', () => {
  it('writes milliseconds, seconds, minutes and hours', () => {
    assert.equal(formatDuration(0), '0 ms');
    assert.equal(formatDuration(850), '850 ms');
    assert.equal(formatDuration(1_000), '1.0 s');
    assert.equal(formatDuration(4_240), '4.2 s');
    assert.equal(formatDuration(60_000), '1 min 00 s');
    assert.equal(formatDuration(185_000), '3 min 05 s');
    assert.equal(formatDuration(3_599_000), '59 min 59 s');
    assert.equal(formatDuration(3_600_000), '1 h 00 min');
    assert.equal(formatDuration(3_720_000), '1 h 02 min');
    assert.equal(formatDuration(50 * 3_600_000 + 59 * 60_000), '50 h 59 min');
  });

  it('moves up a unit when rounding reaches it', () => {
    assert.equal(formatDuration(999.6), '1.0 s');
    assert.equal(formatDuration(59_960), '1 min 00 s');
    assert.equal(formatDuration(3_599_600), '1 h 00 min');
  });
});

describe('formatScore', () => {
  it('writes a whole percentage', () => {
    assert.equal(formatScore(0), '0%');
    assert.equal(formatScore(0.824), '82%');
    assert.equal(formatScore(0.825), '83%');
    assert.equal(formatScore(1), '100%');
  });
});

describe('times', () => {
  it('writes a local time with seconds', () => {
    assert.equal(formatLocalTime('2026-01-31T13:00:03.999Z'), '2026-01-31 08:00:03');
    // Summer time: four hours behind UTC.
    assert.equal(formatLocalTime('2026-07-01T03:04:05Z'), '2026-06-30 23:04:05');
  });

  it('writes UTC for server-rendered pages, whatever the zone', () => {
    assert.equal(formatUtcTime('2026-01-31T13:00:03.999Z'), '2026-01-31 13:00:03 UTC');
    assert.equal(formatUtcTime('2026-01-31T15:00:03+02:00'), '2026-01-31 13:00:03 UTC');
  });

  it('writes a dash for a time that is not one', () => {
    for (const bad of ['', 'soon', '2026-02-30T99:00:00Z']) {
      assert.equal(formatLocalTime(bad), '—', bad);
      assert.equal(formatUtcTime(bad), '—', bad);
    }
  });
});
