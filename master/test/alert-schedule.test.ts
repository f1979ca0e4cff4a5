/** Detection rule schedules: weekday and time of day in the schedule's zone, over midnight, DST. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertSchedule } from '@cctv/protocol';
import { inSchedule, isTimeZone, localTime } from '../src/alerts/schedule.ts';

const at = (iso: string) => new Date(iso);

describe('alert schedules', () => {
  it('reads weekday and minute in the zone, daylight saving included', () => {
    // 2026-07-03 is a Friday; Berlin is UTC+2 in summer, UTC+1 in winter.
    assert.deepEqual(localTime(at('2026-07-03T21:30:00Z'), 'Europe/Berlin'), {
      day: 5,
      minute: 23 * 60 + 30,
    });
    assert.deepEqual(localTime(at('2026-07-03T22:30:00Z'), 'Europe/Berlin'), { day: 6, minute: 30 });
    assert.deepEqual(localTime(at('2026-01-09T22:30:00Z'), 'Europe/Berlin'), {
      day: 5,
      minute: 23 * 60 + 30,
    });
    assert.deepEqual(localTime(at('2026-07-03T21:30:00Z'), 'UTC'), { day: 5, minute: 21 * 60 + 30 });
  });

  it('applies windows on their days, over midnight into the next morning', () => {
    const nights: AlertSchedule = {
      timeZone: 'Europe/Berlin',
      windows: [{ days: [1, 2, 3, 4, 5], from: '22:00', to: '06:00' }],
    };
    // Friday 23:30 Berlin: in.
    assert.equal(inSchedule(nights, at('2026-07-03T21:30:00Z')), true);
    // Saturday 05:59 Berlin, the morning after Friday: in.
    assert.equal(inSchedule(nights, at('2026-07-04T03:59:00Z')), true);
    // Saturday 06:00: out; Saturday 23:00: out (Saturday is not listed).
    assert.equal(inSchedule(nights, at('2026-07-04T04:00:00Z')), false);
    assert.equal(inSchedule(nights, at('2026-07-04T21:00:00Z')), false);
    // Monday 05:00 (after Sunday, not listed): out; Friday 12:00: out.
    assert.equal(inSchedule(nights, at('2026-07-06T03:00:00Z')), false);
    assert.equal(inSchedule(nights, at('2026-07-03T10:00:00Z')), false);
  });

  it('a day window, a whole day, and no schedule', () => {
    const office: AlertSchedule = { timeZone: 'UTC', windows: [{ days: [6], from: '08:00', to: '24:00' }] };
    assert.equal(inSchedule(office, at('2026-07-04T07:59:00Z')), false);
    assert.equal(inSchedule(office, at('2026-07-04T08:00:00Z')), true);
    assert.equal(inSchedule(office, at('2026-07-04T23:59:00Z')), true);
    const sunday: AlertSchedule = { timeZone: 'UTC', windows: [{ days: [0], from: '00:00', to: '00:00' }] };
    assert.equal(inSchedule(sunday, at('2026-07-05T12:00:00Z')), true);
    assert.equal(inSchedule(sunday, at('2026-07-06T00:00:00Z')), false);
    assert.equal(inSchedule(null, at('2026-07-06T00:00:00Z')), true);
  });

  it('knows time zones', () => {
    assert.equal(isTimeZone('Europe/Berlin'), true);
    assert.equal(isTimeZone('Mars/Olympus'), false);
  });
});
