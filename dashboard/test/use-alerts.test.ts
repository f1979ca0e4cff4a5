import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventAlert, offlineAlert, securityAlert } from '../features/alerts/alert-book.ts';
import { describeAlert } from '../features/alerts/use-alerts.ts';
import { eventView, nodeView, securityAlertView } from './support/views.ts';

const now = 1_772_359_200_000;

describe('describeAlert', () => {
  it('names an event by its kind and camera', () => {
    assert.equal(
      describeAlert(eventAlert(eventView({ type: 'face', cameraId: 'gate' }), now)),
      'face on gate',
    );
  });

  it('names the node of an event without a camera', () => {
    const a = { ...eventAlert(eventView({ nodeId: 'node-b' }), now), cameraId: null };
    assert.equal(describeAlert(a), 'motion on node-b');
  });

  it('names a node that went offline', () => {
    assert.equal(
      describeAlert(offlineAlert(nodeView({ id: 'node-c', state: 'offline' }), now)),
      'node node-c offline',
    );
  });

  it('gives a security alert in the master words, with its repeats', () => {
    assert.equal(
      describeAlert(securityAlert(securityAlertView({ count: 4 }), now)),
      'security: node-b uploaded a segment for cam9 (4 times)',
    );
  });

  it('names the node of a security alert stored without words', () => {
    const { text: _text, ...bare } = securityAlert(securityAlertView({ nodeId: 'node-d' }), now);
    assert.equal(describeAlert(bare), 'security: node-d');
  });
});
