import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SPAN_MS, parseTimelineParams, timelineQuery } from '../features/timeline/timeline-url.ts';
import { MAX_SPAN_MS, MIN_SPAN_MS } from '../features/timeline/timeline-window.ts';

const at = Date.parse('2026-03-01T10:15:30.250Z');

describe('parseTimelineParams', () => {
  it('reads cameras, the moment and the span', () => {
    assert.deepEqual(
      parseTimelineParams({ cameras: 'cam1,cam2', at: '2026-03-01T10:15:30.250Z', span: '3600' }),
      {
        cameras: ['cam1', 'cam2'],
        at,
        spanMs: 3_600_000,
      },
    );
  });

  it('ends now, over ten minutes, with no cameras, for an empty address', () => {
    assert.equal(DEFAULT_SPAN_MS, 600_000);
    assert.deepEqual(parseTimelineParams({}), { cameras: [], at: null, spanMs: DEFAULT_SPAN_MS });
    assert.deepEqual(parseTimelineParams({ cameras: '', at: '', span: '' }), {
      cameras: [],
      at: null,
      spanMs: DEFAULT_SPAN_MS,
    });
  });

  it('drops empty and repeated cameras, keeps the order, and keeps ids it does not know for the page to report', () => {
    assert.deepEqual(parseTimelineParams({ cameras: ' cam2 ,,cam1,cam2, ,gone' }).cameras, [
      'cam2',
      'cam1',
      'gone',
    ]);
  });

  it('takes the first of repeated parameters', () => {
    assert.deepEqual(parseTimelineParams({ cameras: ['a,b', 'c'], span: ['60', '7200'] }), {
      cameras: ['a', 'b'],
      at: null,
      spanMs: 60_000,
    });
  });

  it('ignores a moment that is not a time', () => {
    assert.equal(parseTimelineParams({ at: 'noon' }).at, null);
    assert.equal(parseTimelineParams({ at: '2026-02-30T25:00:00Z' }).at, null);
  });

  it('falls back to the default span for a bad one and clamps the rest', () => {
    for (const bad of ['0', '-60', 'wide', 'Infinity', 'NaN'])
      assert.equal(parseTimelineParams({ span: bad }).spanMs, DEFAULT_SPAN_MS, bad);
    assert.equal(parseTimelineParams({ span: '1' }).spanMs, MIN_SPAN_MS);
    assert.equal(parseTimelineParams({ span: '99999999' }).spanMs, MAX_SPAN_MS);
    assert.equal(parseTimelineParams({ span: '90.5' }).spanMs, 90_500);
  });
});

describe('timelineQuery', () => {
  it('writes cameras with plain commas, the moment in UTC and the span in whole seconds', () => {
    assert.equal(
      timelineQuery({ cameras: ['cam1', 'cam-2'], at, spanMs: 90_400 }),
      '?cameras=cam1,cam-2&at=2026-03-01T10%3A15%3A30.250Z&span=90',
    );
  });

  it('always has the span, and nothing else when there is nothing else', () => {
    assert.equal(timelineQuery({ cameras: [], at: null, spanMs: DEFAULT_SPAN_MS }), '?span=600');
  });

  it('round-trips through parseTimelineParams', () => {
    for (const p of [
      { cameras: [], at: null, spanMs: DEFAULT_SPAN_MS },
      { cameras: ['cam1'], at, spanMs: MAX_SPAN_MS },
      { cameras: ['a', 'b', 'c'], at: 0, spanMs: MIN_SPAN_MS },
    ]) {
      const back = parseTimelineParams(Object.fromEntries(new URLSearchParams(timelineQuery(p))));
      assert.deepEqual(back, p);
    }
  });
});
