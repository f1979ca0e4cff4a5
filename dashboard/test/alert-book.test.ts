import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeView } from '@cctv/protocol';
import {
  type Alert,
  type AlertBook,
  alertsStorageKey,
  emptyBook,
  eventAlert,
  MAX_ACKED,
  MAX_ALERTS,
  mergeAlerts,
  offlineAlert,
  parseStoredAlerts,
  reduceAlerts,
  securityAlert,
  serialiseAlerts,
  unacknowledged,
} from '../features/alerts/alert-book.ts';
import { eventView, nodeView, securityAlertView } from './support/views.ts';

const now = 1_772_359_200_000;
const node = (id: string, state: NodeView['state'], stateChangedAt = '2026-03-01T10:00:00.000Z') =>
  nodeView({ id, state, stateChangedAt });
const snapshot = (book: AlertBook, ...nodes: NodeView[]) =>
  reduceAlerts(book, { type: 'snapshot', nodes }, now);
const nodeMsg = (book: AlertBook, n: NodeView, at = now) => reduceAlerts(book, { type: 'node', node: n }, at);

describe('alerts of each kind', () => {
  it('raises an event with a link to it', () => {
    assert.deepEqual(eventAlert(eventView({ id: 'ev/1', type: 'face', score: 0.9 }), now), {
      id: 'event:ev/1',
      kind: 'event',
      at: '2026-03-01T10:00:00.000Z',
      seenAt: now,
      nodeId: 'node-a',
      cameraId: 'cam1',
      label: 'face',
      score: 0.9,
      href: '/events/ev%2F1',
      resolvedAt: null,
    });
  });

  it('raises an offline node once per change, linked to the fleet filtered on it', () => {
    const a = offlineAlert(node('node-a', 'offline', '2026-03-01T10:00:00.000Z'), now);
    assert.equal(a.id, 'offline:node-a:2026-03-01T10:00:00.000Z');
    assert.equal(a.href, '/?q=node-a');
    assert.equal(a.kind, 'offline');
    assert.equal(a.cameraId, null);
    assert.equal(a.score, null);
  });

  it('writes how often a security alert repeated', () => {
    const once = securityAlert(securityAlertView(), now);
    assert.equal(once.id, 'security:sa-1');
    assert.equal(once.text, 'node-b uploaded a segment for cam9');
    assert.equal(once.href, '/?q=node-b');
    assert.equal(
      securityAlert(securityAlertView({ count: 3 }), now).text,
      'node-b uploaded a segment for cam9 (3 times)',
    );
  });

  it('links a security alert without a node to the fleet', () => {
    const a = securityAlert(securityAlertView({ nodeId: null }), now);
    assert.equal(a.nodeId, '');
    assert.equal(a.href, '/');
  });
});

describe('reduceAlerts', () => {
  it('raises an event once, however often it is pushed', () => {
    const e = eventView({ id: 'e1' });
    const one = reduceAlerts(emptyBook(), { type: 'event', event: e }, now);
    assert.deepEqual(
      one.alerts.map((a) => a.id),
      ['event:e1'],
    );
    const again = reduceAlerts(
      one,
      { type: 'event', event: { ...e, endedAt: '2026-03-01T10:05:00.000Z' } },
      now + 1,
    );
    assert.equal(again, one);
  });

  it('keeps the newest first and at most MAX_ALERTS', () => {
    let book = emptyBook();
    for (let i = 0; i < MAX_ALERTS + 5; i++)
      book = reduceAlerts(book, { type: 'event', event: eventView({ id: `e${i}` }) }, now + i);
    assert.equal(book.alerts.length, MAX_ALERTS);
    assert.equal(book.alerts[0]?.id, `event:e${MAX_ALERTS + 4}`);
    assert.equal(book.alerts.at(-1)?.id, 'event:e5');
  });

  it('raises nothing for nodes already offline in the first snapshot', () => {
    const book = snapshot(emptyBook(), node('a', 'offline'), node('b', 'online'));
    assert.deepEqual(book.alerts, []);
    assert.deepEqual(book.nodeStates, { a: 'offline', b: 'online' });
  });

  it('raises a node that goes offline from online or stale, not one that stays offline', () => {
    let book = snapshot(emptyBook(), node('a', 'online'), node('b', 'stale'), node('c', 'offline'));
    book = nodeMsg(book, node('a', 'offline', '2026-03-01T11:00:00.000Z'));
    book = nodeMsg(book, node('b', 'offline', '2026-03-01T11:01:00.000Z'));
    book = nodeMsg(book, node('c', 'offline', '2026-03-01T11:02:00.000Z'));
    assert.deepEqual(
      book.alerts.map((a) => a.id),
      ['offline:b:2026-03-01T11:01:00.000Z', 'offline:a:2026-03-01T11:00:00.000Z'],
    );
  });

  it('raises nothing for a node it has not heard of before the first snapshot', () => {
    const book = nodeMsg(emptyBook(), node('a', 'offline'));
    assert.deepEqual(book.alerts, []);
  });

  it('resolves a node that comes back, and raises it again when it drops again', () => {
    let book = snapshot(emptyBook(), node('a', 'online'));
    book = nodeMsg(book, node('a', 'offline', '2026-03-01T11:00:00.000Z'));
    book = nodeMsg(book, node('a', 'online', '2026-03-01T11:30:00.000Z'));
    assert.equal(book.alerts[0]?.resolvedAt, '2026-03-01T11:30:00.000Z');
    book = nodeMsg(book, node('a', 'offline', '2026-03-01T12:00:00.000Z'));
    assert.deepEqual(
      book.alerts.map((a) => [a.id, a.resolvedAt]),
      [
        ['offline:a:2026-03-01T12:00:00.000Z', null],
        ['offline:a:2026-03-01T11:00:00.000Z', '2026-03-01T11:30:00.000Z'],
      ],
    );
  });

  it('changes nothing when a node reports the state it had', () => {
    const book = snapshot(emptyBook(), node('a', 'online'));
    assert.equal(nodeMsg(book, node('a', 'online')), book);
  });

  it('raises what went offline while the socket was down from the next snapshot', () => {
    let book = snapshot(emptyBook(), node('a', 'online'), node('b', 'online'));
    book = snapshot(book, node('a', 'offline', '2026-03-01T11:00:00.000Z'), node('c', 'offline'));
    assert.deepEqual(
      book.alerts.map((a) => a.id),
      ['offline:a:2026-03-01T11:00:00.000Z'],
    );
    assert.deepEqual(book.nodeStates, { a: 'offline', c: 'offline' });
  });

  it('updates the words of a repeated security alert without raising it again', () => {
    const first = reduceAlerts(emptyBook(), { type: 'security', alert: securityAlertView() }, now);
    assert.equal(first.alerts.length, 1);
    const same = reduceAlerts(first, { type: 'security', alert: securityAlertView() }, now + 1);
    assert.equal(same, first);
    const repeated = reduceAlerts(
      first,
      { type: 'security', alert: securityAlertView({ count: 2, lastAt: '2026-03-01T10:02:00.000Z' }) },
      now + 2,
    );
    assert.equal(repeated.alerts.length, 1);
    assert.equal(repeated.alerts[0]?.text, 'node-b uploaded a segment for cam9 (2 times)');
    assert.equal(repeated.alerts[0]?.at, '2026-03-01T10:02:00.000Z');
    assert.equal(repeated.alerts[0]?.seenAt, now, 'first seen when it was raised');
  });
});

describe('unacknowledged', () => {
  it('leaves out acknowledged ids', () => {
    const a = eventAlert(eventView({ id: 'a' }), now);
    const b = eventAlert(eventView({ id: 'b' }), now);
    assert.deepEqual(unacknowledged([a, b], new Set(['event:a', 'event:zzz'])), [b]);
    assert.deepEqual(unacknowledged([], new Set()), []);
  });
});

describe('stored alerts', () => {
  const a = eventAlert(eventView({ id: 'a' }), now);
  const b = offlineAlert(node('n', 'offline'), now + 1);

  it('keeps a key per user', () => {
    assert.equal(alertsStorageKey('ann'), 'cctv.alerts.v1.ann');
    assert.notEqual(alertsStorageKey('ann'), alertsStorageKey('bob'));
  });

  it('round-trips alerts and acknowledgements', () => {
    const raw = serialiseAlerts([a, b], new Set(['event:a']));
    assert.deepEqual(parseStoredAlerts(raw), { alerts: [a, b], acked: ['event:a'] });
  });

  it('keeps the newest MAX_ACKED acknowledgements', () => {
    const acked = Array.from({ length: MAX_ACKED + 10 }, (_, i) => `event:${i}`);
    const back = parseStoredAlerts(serialiseAlerts([], acked));
    assert.equal(back.acked.length, MAX_ACKED);
    assert.equal(back.acked[0], 'event:10');
    assert.equal(back.acked.at(-1), `event:${MAX_ACKED + 9}`);
  });

  it('reads a missing or damaged entry as empty', () => {
    const empty = { alerts: [], acked: [] };
    for (const raw of [null, '', '{', 'null', '42', '"text"', '[]', '{"alerts":{},"acked":"x"}'])
      assert.deepEqual(parseStoredAlerts(raw), empty, String(raw));
  });

  it('drops entries that are not alerts or ids', () => {
    const raw = JSON.stringify({
      alerts: [a, null, { ...a, id: 7 }, { ...a, kind: 'fire' }, { ...b, seenAt: 'now' }, b],
      acked: ['event:a', 3, null, 'event:b'],
    });
    assert.deepEqual(parseStoredAlerts(raw), { alerts: [a, b], acked: ['event:a', 'event:b'] });
  });

  it('keeps at most MAX_ALERTS', () => {
    const many = Array.from({ length: MAX_ALERTS + 3 }, (_, i) => ({ ...a, id: `event:${i}` }));
    assert.equal(parseStoredAlerts(serialiseAlerts(many, [])).alerts.length, MAX_ALERTS);
  });
});

describe('mergeAlerts', () => {
  const alert = (id: string, seenAt: number, over: Partial<Alert> = {}): Alert => ({
    ...eventAlert(eventView({ id }), seenAt),
    ...over,
  });

  it('unites both lists, newest seen first, ties by id', () => {
    const merged = mergeAlerts([alert('a', 1), alert('c', 3)], [alert('b', 2), alert('d', 3)]);
    assert.deepEqual(
      merged.map((x) => x.id),
      ['event:c', 'event:d', 'event:b', 'event:a'],
    );
  });

  it('keeps the stored copy of an alert both have', () => {
    const stored = alert('a', 1, { label: 'stored' });
    const local = alert('a', 5, { label: 'local' });
    assert.deepEqual(mergeAlerts([stored], [local]), [stored]);
  });

  it('keeps a resolution seen only here', () => {
    const stored = alert('a', 1, { label: 'stored' });
    const local = alert('a', 1, { resolvedAt: '2026-03-01T12:00:00.000Z' });
    assert.deepEqual(mergeAlerts([stored], [local]), [{ ...stored, resolvedAt: '2026-03-01T12:00:00.000Z' }]);
    const resolved = alert('a', 1, { resolvedAt: '2026-03-01T11:00:00.000Z' });
    assert.deepEqual(mergeAlerts([resolved], [local]), [resolved]);
  });

  it('keeps at most MAX_ALERTS, the newest', () => {
    const stored = Array.from({ length: MAX_ALERTS }, (_, i) => alert(`s${i}`, i));
    const merged = mergeAlerts(stored, [alert('new', 1e6)]);
    assert.equal(merged.length, MAX_ALERTS);
    assert.equal(merged[0]?.id, 'event:new');
    assert.equal(
      merged.some((x) => x.id === 'event:s0'),
      false,
    );
  });

  it('is empty for two empty lists', () => {
    assert.deepEqual(mergeAlerts([], []), []);
  });
});
