/** An alert notification as the outbox hands it to the senders, for the notify-* tests. */
import type { AlertNotification } from '@cctv/protocol';

export const sample: AlertNotification = {
  id: 'a1b2c3:raised',
  type: 'alert.raised',
  sentAt: '2026-12-05T06:30:01.000Z',
  alert: {
    id: 'a1b2c3',
    kind: 'motion',
    severity: 'warning',
    message: 'Motion in the yard',
    nodeId: 'node-1',
    cameraId: 'yard',
    raisedAt: '2026-12-05T06:30:00.000Z',
    resolvedAt: null,
    ruleId: 'r1',
    ruleName: 'Yard at night',
  },
  event: {
    id: '7a0c6f5e-2b1d-4c1e-9f3a-0d2c4b6a8e10',
    type: 'motion',
    cameraId: 'yard',
    nodeId: 'node-1',
    start: '2026-12-05T06:29:58.000Z',
    end: null,
    score: 0.42,
    zones: ['gate'],
  },
  snapshotUrl: 'https://master.example/s/abc.jpg',
};
