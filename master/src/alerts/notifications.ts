/** Notification parts made from the master's rows (the outbox, MQTT channels, channel tests). */
import { randomUUID } from 'node:crypto';
import type { AlertNotification, NotificationEvent } from '@cctv/protocol';
import type { EventRow } from '../events/event-view.ts';

export function notificationEvent(row: EventRow): NotificationEvent {
  return {
    id: row.id,
    type: row.type as NotificationEvent['type'],
    cameraId: row.cameraId,
    nodeId: row.nodeId,
    start: row.startedAt.toISOString(),
    end: row.endedAt?.toISOString() ?? null,
    score: row.score,
    zones: row.zones ?? [],
  };
}

/** What `POST /api/alert-channels/:id/test` sends: plainly a test, with its own key. */
export function testNotification(by: string): AlertNotification {
  const now = new Date().toISOString();
  return {
    id: `test-${randomUUID()}`,
    type: 'alert.raised',
    sentAt: now,
    alert: {
      id: 'test',
      kind: 'test',
      severity: 'info',
      message: `Test notification, sent by ${by} from the dashboard`,
      nodeId: null,
      cameraId: null,
      raisedAt: now,
      resolvedAt: null,
      ruleId: null,
      ruleName: null,
    },
    event: null,
    snapshotUrl: null,
  };
}
