import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EventMessage, validators } from '@cctv/protocol';
import { EventTracker } from '../src/analysis/event-tracker.ts';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const box = { x: 0.1, y: 0.2, w: 0.3, h: 0.4 };

function tracker(overrides: Partial<ConstructorParameters<typeof EventTracker<string>>[0]> = {}) {
  const sent: EventMessage[] = [];
  const snaps: { n: number; frame: string }[] = [];
  let ids = 0;
  const t = new EventTracker<string>({
    type: 'motion',
    cameraId: 'cam-1',
    startAfterFrames: 2,
    endAfterMs: 1000,
    updateEveryMs: 2000,
    maxDurationMs: 60_000,
    emit: (m) => sent.push(m),
    snapshot: (id, n, frame, _boxes, at) => {
      snaps.push({ n, frame });
      return {
        image: `/v1/snapshots/cam-1/${id}-${n}.jpg`,
        thumbnail: `/v1/snapshots/cam-1/${id}-${n}-thumb.jpg`,
        at: new Date(at).toISOString(),
        width: 640,
        height: 360,
        blurred: false,
      };
    },
    newId: () => `00000000-0000-4000-8000-00000000000${ids++}`,
    ...overrides,
  });
  return { t, sent, snaps };
}

const seen = (at: number, score: number, frame = `f${at}`) => ({
  at: T0 + at,
  boxes: [box],
  score,
  capture: () => frame,
});

describe('event tracker', () => {
  it('starts after consecutive detections, updates, ends after the quiet time, with valid messages', () => {
    const { t, sent, snaps } = tracker();
    t.observe(seen(0, 0.1));
    t.idle(T0 + 200); // a single blip does not start an event
    assert.equal(sent.length, 0);
    t.observe(seen(400, 0.1));
    t.observe(seen(600, 0.3));
    assert.deepEqual(
      sent.map((m) => m.phase),
      ['start'],
    );
    const start = sent[0] as EventMessage;
    assert.equal(start.startedAt, new Date(T0 + 400).toISOString());
    assert.equal(start.score, 0.3);
    assert.equal(start.snapshot?.image, `/v1/snapshots/cam-1/${start.id}-0.jpg`);
    for (let ms = 800; ms <= 3000; ms += 200) t.observe(seen(ms, 0.2));
    t.observe(seen(3200, 0.9, 'best'));
    t.idle(T0 + 3400);
    t.idle(T0 + 4000);
    assert.ok(sent.some((m) => m.phase === 'update'));
    t.idle(T0 + 4200); // 1000 ms after the last detection
    const end = sent.at(-1) as EventMessage;
    assert.equal(end.phase, 'end');
    assert.equal(end.endedAt, new Date(T0 + 3200).toISOString());
    assert.equal(end.score, 0.9);
    assert.equal(end.bestAt, new Date(T0 + 3200).toISOString());
    assert.equal(snaps.at(-1)?.frame, 'best', 'the end snapshot shows the best frame');
    assert.deepEqual(
      sent.map((m) => m.seq),
      sent.map((_, i) => i),
    );
    assert.ok(sent.every((m) => m.id === start.id));
    for (const m of sent)
      assert.ok(validators.event.check(m), validators.event.validate(m).ok ? '' : 'invalid');
  });

  it('caps an event at maxDurationMs and starts a new one', () => {
    const { t, sent } = tracker({ maxDurationMs: 1000, startAfterFrames: 1 });
    for (let ms = 0; ms <= 1600; ms += 200) t.observe(seen(ms, 0.5));
    const phases = sent.map((m) => `${m.id.slice(-1)}:${m.phase}`);
    assert.deepEqual(
      phases.filter((p) => !p.endsWith('update')),
      ['0:start', '0:end', '1:start'],
    );
  });

  it('flush ends a running event where it was last seen', () => {
    const { t, sent } = tracker({ startAfterFrames: 1 });
    t.observe(seen(0, 0.5));
    t.flush(T0 + 60_000);
    assert.equal(sent.at(-1)?.phase, 'end');
    assert.equal(sent.at(-1)?.endedAt, new Date(T0 + 1000).toISOString());
    assert.equal(t.current, null);
  });
});
