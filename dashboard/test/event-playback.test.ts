import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIP_PAD_MS,
  type ClipFragment,
  clipRange,
  mediaTimeAt,
  wallClockAt,
} from '../features/events/event-playback.ts';
import { eventView } from './support/views.ts';

describe('clipRange', () => {
  it('pads a finished event on both sides', () => {
    assert.equal(CLIP_PAD_MS, 5_000);
    const e = eventView({ startedAt: '2026-03-01T10:00:00.000Z', endedAt: '2026-03-01T10:00:12.000Z' });
    assert.deepEqual(clipRange(e), { from: '2026-03-01T09:59:55.000Z', to: '2026-03-01T10:00:17.000Z' });
  });

  it('runs an open event to its newest frame', () => {
    const e = eventView({
      startedAt: '2026-03-01T10:00:00.000Z',
      endedAt: null,
      lastAt: '2026-03-01T10:03:00.250Z',
    });
    assert.deepEqual(clipRange(e), { from: '2026-03-01T09:59:55.000Z', to: '2026-03-01T10:03:05.250Z' });
  });

  it('asks for no more than the 24 h the master grants', () => {
    const e = eventView({ startedAt: '2026-03-01T10:00:00.000Z', endedAt: '2026-03-03T10:00:00.000Z' });
    assert.deepEqual(clipRange(e), { from: '2026-03-01T09:59:55.000Z', to: '2026-03-02T09:59:55.000Z' });
  });
});

describe('wall clock and media time of a clip', () => {
  const t0 = Date.parse('2026-03-01T09:59:55.000Z');
  /** Three 4 s segments in a row, then one recorded after a 60 s gap. */
  const fragments: ClipFragment[] = [
    { start: 0, duration: 4, programDateTime: t0 },
    { start: 4, duration: 4, programDateTime: t0 + 4_000 },
    { start: 8, duration: 4, programDateTime: t0 + 8_000 },
    { start: 12, duration: 4, programDateTime: t0 + 72_000 },
  ];

  it('reads the wall clock from the fragment that holds the media time', () => {
    assert.equal(wallClockAt(fragments, 0), t0);
    assert.equal(wallClockAt(fragments, 5.5), t0 + 5_500);
    assert.equal(wallClockAt(fragments, 11.99), t0 + 11_990);
    assert.equal(wallClockAt(fragments, 12), t0 + 72_000);
    assert.equal(wallClockAt(fragments, 13.25), t0 + 73_250);
  });

  it('takes a time a hair before a fragment (float error) as inside it', () => {
    assert.equal(wallClockAt(fragments, 12 - 1e-4), t0 + 72_000 - 0.1);
  });

  it('finds the media time of a wall-clock moment', () => {
    assert.equal(mediaTimeAt(fragments, t0), 0);
    assert.equal(mediaTimeAt(fragments, t0 + 9_500), 9.5);
    assert.equal(mediaTimeAt(fragments, t0 + 74_000), 14);
  });

  it('goes to the start for a moment before the clip', () => {
    assert.equal(mediaTimeAt(fragments, t0 - 3_000), 0);
  });

  it('round-trips inside a fragment', () => {
    for (const t of [0.5, 4, 7.25, 13]) {
      const wall = wallClockAt(fragments, t);
      assert.notEqual(wall, null);
      assert.equal(mediaTimeAt(fragments, wall as number), t);
    }
  });

  it('skips fragments without a date', () => {
    const mixed: ClipFragment[] = [
      { start: 0, duration: 4, programDateTime: null },
      { start: 4, duration: 4, programDateTime: t0 + 4_000 },
    ];
    assert.equal(wallClockAt(mixed, 6), t0 + 6_000);
    assert.equal(mediaTimeAt(mixed, t0 + 6_000), 6);
  });

  it('knows nothing without dated fragments', () => {
    assert.equal(wallClockAt([], 3), null);
    assert.equal(mediaTimeAt([], t0), null);
    const undated: ClipFragment[] = [{ start: 0, duration: 4, programDateTime: null }];
    assert.equal(wallClockAt(undated, 1), null);
    assert.equal(mediaTimeAt(undated, t0), null);
  });
});
