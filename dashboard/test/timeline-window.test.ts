import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bounds,
  centredOn,
  clampSpan,
  fractionOf,
  MAX_SPAN_MS,
  MIN_SPAN_MS,
  PRESETS,
  pan,
  type TimeWindow,
  tickLabel,
  ticks,
  zoom,
} from '../features/timeline/timeline-window.ts';

// Ticks and their labels follow the browser's zone: one with summer time, so its changes are tested.
process.env.TZ = 'America/New_York';

const H = 3_600_000;
const now = Date.parse('2026-03-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('spans', () => {
  it('keeps a span between a minute and a week, in whole milliseconds', () => {
    assert.equal(clampSpan(1), MIN_SPAN_MS);
    assert.equal(clampSpan(-5 * H), MIN_SPAN_MS);
    assert.equal(clampSpan(30 * 24 * H), MAX_SPAN_MS);
    assert.equal(clampSpan(90_000.4), 90_000);
    assert.equal(MAX_SPAN_MS, 7 * 24 * H);
  });

  it('offers presets that are spans it keeps', () => {
    assert.deepEqual(
      PRESETS.map((p) => p.spanMs),
      [600_000, H, 6 * H, 24 * H],
    );
    for (const p of PRESETS) assert.equal(clampSpan(p.spanMs), p.spanMs);
  });
});

describe('bounds', () => {
  it('ends now while following, else at its end', () => {
    assert.deepEqual(bounds({ end: null, spanMs: H }, now), { from: now - H, to: now });
    assert.deepEqual(bounds({ end: now - 5 * H, spanMs: H }, now), { from: now - 6 * H, to: now - 5 * H });
  });
});

describe('centredOn', () => {
  it('puts a past moment in the middle', () => {
    assert.deepEqual(centredOn(now - 3 * H, H, now), { end: now - 2.5 * H, spanMs: H });
  });

  it('follows now when the middle would put the end in the future', () => {
    assert.deepEqual(centredOn(now - 10 * 60_000, H, now), { end: null, spanMs: H });
    assert.deepEqual(centredOn(now - H / 2, H, now), { end: null, spanMs: H });
  });

  it('clamps the span first', () => {
    assert.deepEqual(centredOn(now - 3 * H, 10, now), { end: now - 3 * H + 30_000, spanMs: MIN_SPAN_MS });
  });
});

describe('pan', () => {
  it('moves back by a share of the span', () => {
    assert.deepEqual(pan({ end: null, spanMs: H }, -0.5, now), { end: now - H / 2, spanMs: H });
    assert.deepEqual(pan({ end: now - 2 * H, spanMs: H }, -1, now), { end: now - 3 * H, spanMs: H });
  });

  it('follows now again when panned up to or past it', () => {
    assert.deepEqual(pan({ end: now - H / 2, spanMs: H }, 0.5, now), { end: null, spanMs: H });
    assert.deepEqual(pan({ end: now - H / 2, spanMs: H }, 2, now), { end: null, spanMs: H });
  });
});

describe('zoom', () => {
  it('keeps following now, only changing the span', () => {
    assert.deepEqual(zoom({ end: null, spanMs: H }, 0.5, 0.2, now), { end: null, spanMs: H / 2 });
  });

  it('keeps the moment under the anchor where it is', () => {
    const w: TimeWindow = { end: now - 10 * H, spanMs: 4 * H };
    const before = bounds(w, now);
    const at = before.from + 0.25 * w.spanMs;
    const z = zoom(w, 0.5, 0.25, now);
    assert.equal(z.spanMs, 2 * H);
    const after = bounds(z, now);
    assert.equal(fractionOf(at, after.from, after.to), 0.25);
  });

  it('stops at the span limits', () => {
    assert.equal(zoom({ end: null, spanMs: MIN_SPAN_MS }, 0.5, 0.5, now).spanMs, MIN_SPAN_MS);
    assert.equal(zoom({ end: now - H, spanMs: MAX_SPAN_MS }, 2, 0.5, now).spanMs, MAX_SPAN_MS);
  });

  it('follows now when zooming out reaches it', () => {
    assert.deepEqual(zoom({ end: now - H, spanMs: 2 * H }, 2, 0.5, now), { end: null, spanMs: 4 * H });
  });
});

describe('fractionOf', () => {
  it('places times across the bar, outside it below 0 or above 1', () => {
    assert.equal(fractionOf(150, 100, 200), 0.5);
    assert.equal(fractionOf(50, 100, 200), -0.5);
    assert.equal(fractionOf(250, 100, 200), 1.5);
  });
});

describe('ticks', () => {
  it('picks a round step for about eight ticks, inside [from, to)', () => {
    const from = Date.parse('2026-03-01T10:00:07.000Z');
    const t = ticks(from, from + 10 * 60_000);
    assert.deepEqual(t.map(iso), [
      '2026-03-01T10:02:00.000Z',
      '2026-03-01T10:04:00.000Z',
      '2026-03-01T10:06:00.000Z',
      '2026-03-01T10:08:00.000Z',
      '2026-03-01T10:10:00.000Z',
    ]);
    assert.equal(ticks(0, 8_000, 8).length, 8);
  });

  it('aligns steps of hours to local midnight', () => {
    // 05:00 UTC is midnight in New York in winter.
    const from = Date.parse('2026-02-10T00:00:00.000Z');
    assert.deepEqual(ticks(from, from + 48 * H).map(iso), [
      '2026-02-10T05:00:00.000Z',
      '2026-02-10T11:00:00.000Z',
      '2026-02-10T17:00:00.000Z',
      '2026-02-10T23:00:00.000Z',
      '2026-02-11T05:00:00.000Z',
      '2026-02-11T11:00:00.000Z',
      '2026-02-11T17:00:00.000Z',
      '2026-02-11T23:00:00.000Z',
    ]);
  });

  it('uses whole days for a week', () => {
    const from = Date.parse('2026-02-10T00:00:00.000Z');
    const t = ticks(from, from + 7 * 24 * H);
    assert.equal(t.length, 7);
    for (const x of t) assert.equal(new Date(x).getHours(), 0);
  });

  it('stays on the local clock across the change to summer time', () => {
    // 2026-03-08 02:00 EST became 03:00 EDT: local midnight and 06:00 are 05:00 UTC before, 10:00 UTC after.
    const from = Date.parse('2026-03-07T12:00:00.000Z');
    const t = ticks(from, from + 48 * H);
    assert.deepEqual(
      t.map((x) => new Date(x).getHours()),
      [12, 18, 0, 6, 12, 18, 0, 6],
    );
    assert.equal(iso(t[3] ?? 0), '2026-03-08T10:00:00.000Z');
  });

  it('stays on the local clock across the change back', () => {
    const from = Date.parse('2026-10-31T12:00:00.000Z');
    const t = ticks(from, from + 48 * H);
    assert.deepEqual(
      t.map((x) => new Date(x).getHours()),
      [12, 18, 0, 6, 12, 18, 0, 6],
    );
    assert.equal(iso(t[3] ?? 0), '2026-11-01T11:00:00.000Z');
  });

  it('gives hourly ticks in order, once each, through both changes', () => {
    for (const day of ['2026-03-08T03:00:00.000Z', '2026-11-01T03:00:00.000Z']) {
      const from = Date.parse(day);
      const t = ticks(from, from + 8 * H, 8);
      assert.deepEqual(
        t,
        [...new Set(t)].sort((a, b) => a - b),
        `${day}: in order, once each`,
      );
      for (const x of t) assert.equal(new Date(x).getMinutes(), 0);
      assert.ok((t.at(-1) ?? 0) > from + 6 * H, `${day}: up to the end`);
    }
  });

  it('gives none for an empty or broken range', () => {
    assert.deepEqual(ticks(now, now), []);
    assert.deepEqual(ticks(now, now - H), []);
    assert.deepEqual(ticks(Number.NaN, now), []);
  });
});

describe('tickLabel', () => {
  const midnight = Date.parse('2026-02-10T05:00:05.000Z');

  it('writes hours and minutes on a 24-hour clock, midnight as 00', () => {
    assert.match(tickLabel(midnight, H), /^00\D00$/);
    assert.match(tickLabel(midnight + 13 * H + 7 * 60_000, H), /^13\D07$/);
  });

  it('adds seconds for spans of five minutes or less', () => {
    assert.match(tickLabel(midnight, 5 * 60_000), /^00\D00\D05$/);
  });

  it('adds the date for spans over two days', () => {
    const label = tickLabel(midnight, 3 * 24 * H);
    assert.match(label, /10/);
    assert.match(label, /00\D00$/);
  });
});
