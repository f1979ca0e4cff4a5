import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TimelineView } from '@cctv/protocol';
import { TIMELINE_MAX_BUCKETS } from '@cctv/protocol/patterns';
import { markersOf, TIMELINE_BUCKETS } from '../features/timeline/timeline-data.ts';
import { eventView } from './support/views.ts';

const view = (over: Partial<TimelineView>): TimelineView => ({
  cameraId: 'cam1',
  from: '2026-03-01T00:00:00.000Z',
  to: '2026-03-02T00:00:00.000Z',
  spans: [],
  events: null,
  buckets: null,
  ...over,
});

describe('markersOf', () => {
  it('gives one marker per event, an open one up to its newest frame', () => {
    const markers = markersOf(
      view({
        events: [
          eventView({ id: 'e1', type: 'motion', score: 0.4 }),
          eventView({
            id: 'e2',
            type: 'face',
            score: 0.9,
            startedAt: '2026-03-01T11:00:00.000Z',
            endedAt: null,
            lastAt: '2026-03-01T11:00:03.500Z',
          }),
        ],
      }),
    );
    assert.deepEqual(markers, [
      {
        key: 'e1',
        cameraId: 'cam1',
        start: Date.parse('2026-03-01T10:00:00.000Z'),
        end: Date.parse('2026-03-01T10:00:12.000Z'),
        kind: 'motion',
        count: 1,
        score: 0.4,
      },
      {
        key: 'e2',
        cameraId: 'cam1',
        start: Date.parse('2026-03-01T11:00:00.000Z'),
        end: Date.parse('2026-03-01T11:00:03.500Z'),
        kind: 'face',
        count: 1,
        score: 0.9,
      },
    ]);
  });

  it('takes the camera from the view, not the event', () => {
    const [m] = markersOf(view({ cameraId: 'cam7', events: [eventView({ cameraId: 'cam1' })] }));
    assert.equal(m?.cameraId, 'cam7');
  });

  it('gives one marker per bucket when the range holds too many, counting both kinds', () => {
    const markers = markersOf(
      view({
        buckets: [
          {
            start: '2026-03-01T00:00:00.000Z',
            end: '2026-03-01T01:00:00.000Z',
            motion: 3,
            face: 2,
            maxScore: 0.7,
          },
          {
            start: '2026-03-01T01:00:00.000Z',
            end: '2026-03-01T02:00:00.000Z',
            motion: 0,
            face: 1,
            maxScore: 0.95,
          },
        ],
      }),
    );
    assert.deepEqual(markers, [
      {
        key: 'cam1-2026-03-01T00:00:00.000Z',
        cameraId: 'cam1',
        start: Date.parse('2026-03-01T00:00:00.000Z'),
        end: Date.parse('2026-03-01T01:00:00.000Z'),
        kind: 'bucket',
        count: 5,
        score: 0.7,
      },
      {
        key: 'cam1-2026-03-01T01:00:00.000Z',
        cameraId: 'cam1',
        start: Date.parse('2026-03-01T01:00:00.000Z'),
        end: Date.parse('2026-03-01T02:00:00.000Z'),
        kind: 'bucket',
        count: 1,
        score: 0.95,
      },
    ]);
  });

  it('prefers events to buckets, and has none when neither came', () => {
    const bucket = {
      start: '2026-03-01T00:00:00.000Z',
      end: '2026-03-01T01:00:00.000Z',
      motion: 1,
      face: 0,
      maxScore: 1,
    };
    assert.deepEqual(markersOf(view({ events: [], buckets: [bucket] })), []);
    assert.deepEqual(markersOf(view({})), []);
  });

  it('asks for no more buckets than the master gives', () => {
    assert.ok(TIMELINE_BUCKETS > 0 && TIMELINE_BUCKETS <= TIMELINE_MAX_BUCKETS);
  });
});
