import { type Static, Type } from '@sinclair/typebox';
import type { AlertView } from './alerts.ts';
import { EventBox, EventType } from './events.ts';
import { HeartbeatMessage } from './messages.ts';
import { NodeConfigStatus } from './node-config.ts';
import { Nullable } from './nullable.ts';
import type { SecurityAlertView } from './security.ts';

/**
 * Shapes the master serves to dashboards (`/api/nodes`, `/api/cameras`, websocket `/ws`). One
 * TypeBox definition each: the master's HTTP routes serialise with it (only declared fields
 * leave), dashboards get the type. Times are ISO-8601 strings; answers are not validated, so
 * the schemas carry no patterns.
 */

const Time = Type.String();

export const CameraView = Type.Object({
  id: Type.String(),
  nodeId: Type.String(),
  name: Type.String(),
  codec: Nullable(Type.String()),
  width: Nullable(Type.Number()),
  height: Nullable(Type.Number()),
  fps: Nullable(Type.Number()),
  simulated: Type.Boolean(),
  state: Type.String(),
  online: Type.Boolean(),
});
export type CameraView = Static<typeof CameraView>;

export const NodeView = Type.Object({
  id: Type.String(),
  /** `stale`: online by its status, but no heartbeat for longer than the master's stale age. */
  state: Type.Union([Type.Literal('online'), Type.Literal('stale'), Type.Literal('offline')]),
  agentVersion: Nullable(Type.String()),
  hostname: Nullable(Type.String()),
  platform: Nullable(Type.String()),
  arch: Nullable(Type.String()),
  lastSeenAt: Nullable(Time),
  lastHeartbeatAt: Nullable(Time),
  stateChangedAt: Time,
  /** The node's last heartbeat as it sent it; null when none, or when the stored one is invalid. */
  heartbeat: Nullable(HeartbeatMessage),
  /** Management mode and whether the node runs its desired configuration. */
  config: NodeConfigStatus,
  cameras: Type.Array(CameraView),
});
export type NodeView = Static<typeof NodeView>;

/** One change of a node's state (`/api/nodes/:id/history`), newest first. */
export const NodeStateChangeView = Type.Object({
  state: Type.String(),
  /**
   * `status`: the node's own status message or its last will; `master-start`: the master
   * restarted; `heartbeat-age`: no heartbeat for the stale age; `heartbeat`: one came again.
   */
  reason: Type.String(),
  at: Time,
});
export type NodeStateChangeView = Static<typeof NodeStateChangeView>;

/** Messages on the master's dashboard websocket. */
export type FleetSocketMessage =
  | { type: 'snapshot'; nodes: NodeView[] }
  | { type: 'node'; node: NodeView }
  | FleetSocketEventMessage
  /** To admins only: a security alert raised or repeated (same id, higher count). */
  | { type: 'security'; alert: SecurityAlertView }
  /** An alert the user may see, raised, repeated, resolved or acknowledged (same id). */
  | { type: 'alert'; alert: AlertView };

/**
 * A snapshot of an event's best frame, with absolute URLs on the storage gateway; they carry a
 * grant for the user they were made for and work for a few minutes.
 */
export const EventSnapshotView = Type.Object({
  imageUrl: Type.String(),
  thumbnailUrl: Type.String(),
  at: Time,
  width: Type.Number(),
  height: Type.Number(),
  blurred: Type.Boolean(),
});
export type EventSnapshotView = Static<typeof EventSnapshotView>;

/** One stored event (`/api/events`, `/api/events/:id`, websocket `event`). */
export const EventView = Type.Object({
  id: Type.String(),
  nodeId: Type.String(),
  cameraId: Type.String(),
  type: EventType,
  startedAt: Time,
  endedAt: Nullable(Time),
  /** Time of the newest frame described so far. */
  lastAt: Time,
  score: Type.Number(),
  bestAt: Time,
  boxes: Type.Array(EventBox),
  zones: Type.Array(Type.String()),
  frames: Type.Number(),
  snapshot: Nullable(EventSnapshotView),
  /** The seq of the newest message applied. */
  lastSeq: Type.Number(),
  updatedAt: Time,
});
export type EventView = Static<typeof EventView>;

/** A page of `/api/events`, newest first; `nextCursor` is null on the last page. */
export const EventPage = Type.Object({ events: Type.Array(EventView), nextCursor: Nullable(Type.String()) });
export type EventPage = Static<typeof EventPage>;

/** Continuous recording coverage: segments closer than 1.5 s merged into one span. */
export const RecordingSpan = Type.Object({ start: Time, end: Time });
export type RecordingSpan = Static<typeof RecordingSpan>;

/** Event counts in one time bucket of a long timeline range. */
export const EventBucket = Type.Object({
  start: Time,
  end: Time,
  motion: Type.Number(),
  face: Type.Number(),
  maxScore: Type.Number(),
});
export type EventBucket = Static<typeof EventBucket>;

/**
 * `/api/cameras/:id/timeline`: recording spans plus either the events themselves (`events`, oldest
 * first) or, when the range holds more than `buckets` events, counts per bucket (`buckets`).
 */
export const TimelineView = Type.Object({
  cameraId: Type.String(),
  from: Time,
  to: Time,
  spans: Type.Array(RecordingSpan),
  events: Nullable(Type.Array(EventView)),
  buckets: Nullable(Type.Array(EventBucket)),
});
export type TimelineView = Static<typeof TimelineView>;

/** Pushed on the dashboard websocket after an event message was stored. */
export type FleetSocketEventMessage = { type: 'event'; event: EventView };
