import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acknowledgeHeld,
  alertHref,
  appendOlder,
  applyAlert,
  bookOf,
  describeAlert,
  newestFirst,
  recounted,
} from '../features/alerts/alert-book.ts';
import { parseFleetMessage } from '../features/fleet/fleet-socket.ts';
import { alertView } from './support/views.ts';

const page = (ids: string[], unacknowledged = ids.length, nextCursor: string | null = null) => ({
  alerts: ids.map((id) => alertView({ id })),
  unacknowledged,
  nextCursor,
});
const ids = (book: { alerts: { id: string }[] }) => book.alerts.map((a) => a.id);
const later = '2026-03-01T10:05:00.000Z';

describe('alert book', () => {
  it('orders by the master sequence, 10 after 9', () => {
    assert.deepEqual(
      ['9', '10', '101', '11']
        .map((id) => ({ id }))
        .sort(newestFirst)
        .map((a) => a.id),
      ['101', '11', '10', '9'],
    );
    assert.deepEqual(ids(bookOf(page(['9', '12', '10']))), ['12', '10', '9']);
  });

  it('puts a new alert on top and counts it; the bell keeps one page', () => {
    const book = bookOf(page(['12', '11'], 7));
    const next = applyAlert(book, alertView({ id: '13' }), { limit: 2 });
    assert.deepEqual(ids(next), ['13', '12']);
    assert.equal(next.unacknowledged, 8);
    assert.equal(book.unacknowledged, 7, 'the old book is left as it was');
  });

  it('replaces the same id without counting it twice, and ignores a late older copy', () => {
    const book = bookOf(page(['12'], 1));
    const repeated = applyAlert(book, alertView({ id: '12', count: 3, updatedAt: later }));
    assert.equal(repeated.unacknowledged, 1);
    assert.equal(repeated.alerts[0]?.count, 3);
    assert.equal(applyAlert(repeated, alertView({ id: '12', count: 2 })), repeated);
  });

  it('takes an acknowledgement of a held alert off the count, once', () => {
    const book = bookOf(page(['12', '11'], 5));
    const acked = alertView({ id: '11', acknowledgedAt: later, acknowledgedBy: 'bob', updatedAt: later });
    const next = applyAlert(book, acked);
    assert.equal(next.unacknowledged, 4);
    assert.equal(next.alerts[1]?.acknowledgedBy, 'bob');
    assert.equal(applyAlert(next, acked).unacknowledged, 4);
    assert.equal(next.recount, false);
  });

  it('asks for a recount when an alert it never held is acknowledged elsewhere', () => {
    const book = bookOf(page(['12'], 5));
    const next = applyAlert(book, alertView({ id: '3', acknowledgedAt: later, updatedAt: later }), {
      limit: 1,
    });
    assert.equal(next.recount, true);
    assert.equal(next.unacknowledged, 5);
    assert.deepEqual(ids(next), ['12']);
    const fixed = recounted(next, 4);
    assert.equal(fixed.recount, false);
    assert.equal(fixed.unacknowledged, 4);
  });

  it('keeps an acknowledgement made here while an older unacknowledged copy arrives', () => {
    const book = acknowledgeHeld(bookOf(page(['12'], 1)), ['12'], 'alice', later);
    assert.equal(book.unacknowledged, 0);
    const next = applyAlert(book, alertView({ id: '12', count: 2, updatedAt: later }));
    assert.equal(next.alerts[0]?.acknowledgedBy, 'alice');
    assert.equal(next.alerts[0]?.count, 2);
    assert.equal(next.unacknowledged, 0);
  });

  it('leaves out of a filtered list what the filters do not accept, uncounted', () => {
    const book = bookOf(page(['12'], 1));
    const next = applyAlert(book, alertView({ id: '13', kind: 'node_offline' }), {
      accepts: (a) => a.kind === 'detection',
    });
    assert.deepEqual(ids(next), ['12']);
    assert.equal(next.unacknowledged, 1);
  });

  it('acknowledges the chosen held alerts, or all: then nothing is left to acknowledge', () => {
    const book = bookOf(page(['13', '12', '11'], 9));
    const one = acknowledgeHeld(book, ['12', 'nope'], 'alice', later);
    assert.equal(one.unacknowledged, 8);
    assert.deepEqual(
      one.alerts.map((a) => a.acknowledgedBy),
      [null, 'alice', null],
    );
    const all = acknowledgeHeld(one, null, 'alice', later);
    assert.equal(all.unacknowledged, 0, 'every alert the user sees, not only the held ones');
    assert.ok(all.alerts.every((a) => a.acknowledgedAt === later));
  });

  it('appends an older page after the held ones, keeping the newer copies', () => {
    const book = applyAlert(bookOf(page(['13', '12'], 3, '12')), alertView({ id: '14' }));
    const older = appendOlder(book, {
      alerts: [alertView({ id: '12', count: 9 }), alertView({ id: '11' })],
      unacknowledged: 4,
      nextCursor: null,
    });
    assert.deepEqual(ids(older), ['14', '13', '12', '11']);
    assert.equal(older.alerts[2]?.count, 1);
    assert.equal(older.nextCursor, null);
    assert.equal(older.unacknowledged, 4);
  });

  it('reads alert frames from the fleet socket, and drops malformed ones', () => {
    const alert = alertView({ id: '42' });
    assert.deepEqual(parseFleetMessage(JSON.stringify({ type: 'alert', alert })), { type: 'alert', alert });
    assert.equal(parseFleetMessage(JSON.stringify({ type: 'alert', alert: { id: 42 } })), null);
    assert.equal(parseFleetMessage(JSON.stringify({ type: 'alert' })), null);
  });

  it('links an alert to its event, else its camera, else its node', () => {
    assert.equal(alertHref(alertView({ eventId: 'ev 1' })), '/events/ev%201');
    assert.equal(alertHref(alertView({ eventId: null })), '/cameras/cam1');
    assert.equal(alertHref(alertView({ eventId: null, cameraId: null })), '/?q=node-a');
    assert.equal(alertHref(alertView({ eventId: null, cameraId: null, nodeId: null })), null);
  });

  it('describes an alert by severity, kind and the master words, with its repeats', () => {
    assert.equal(
      describeAlert(alertView({ kind: 'node_offline', severity: 'critical', message: 'node b offline' })),
      'critical node offline: node b offline',
    );
    assert.equal(
      describeAlert(alertView({ kind: 'security', message: 'claim', count: 3 })),
      'warning security: claim (3 times)',
    );
  });
});
