/**
 * Whether a moment falls in a detection rule's schedule: weekday and time of day in the
 * schedule's time zone (the site's), so "weekdays 18:00–07:00" means the site's evenings
 * whatever zone the master's host runs in, daylight saving included.
 */
import type { AlertSchedule } from '@cctv/protocol';

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formats = new Map<string, Intl.DateTimeFormat>();

/** Whether the runtime knows the zone (`Intl` throws a RangeError for an unknown one). */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(zone, f);
  }
  return f;
}

/** Weekday (0 = Sunday) and minute of the day of `at` in `zone`. */
export function localTime(at: Date, zone: string): { day: number; minute: number } {
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatter(zone).formatToParts(at)) {
    if (part.type === 'weekday') day = WEEKDAYS.indexOf(part.value);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** null: always. A window from == to covers its whole day(s). */
export function inSchedule(schedule: AlertSchedule | null, at: Date): boolean {
  if (!schedule) return true;
  const { day, minute } = localTime(at, schedule.timeZone);
  const yesterday = (day + 6) % 7;
  for (const w of schedule.windows) {
    const from = minutes(w.from);
    const to = minutes(w.to);
    if (from === to) {
      if (w.days.includes(day)) return true;
    } else if (from < to) {
      if (w.days.includes(day) && minute >= from && minute < to) return true;
    } else {
      // Over midnight: the evening of a listed day, or the morning after one.
      if (w.days.includes(day) && minute >= from) return true;
      if (w.days.includes(yesterday) && minute < to) return true;
    }
  }
  return false;
}
