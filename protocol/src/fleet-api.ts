import type { EventBox, EventType } from './events.ts';
import type { SecurityAlertView } from './security.ts';

/** Shapes the master serves to dashboards (`/api/nodes`, `/api/cameras`, websocket `/ws`). */
export interface CameraView {
  id: string;
  nodeId: string;
  name: string;
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  simulated: boolean;
  state: string;
  online: boolean;
}

export interface NodeView {
  id: string;
  /** `stale`: online by its status, but no heartbeat for longer than the master's stale age. */
  state: 'online' | 'stale' | 'offline';
  agentVersion: string | null;
  hostname: string | null;
  platform: string | null;
  arch: string | null;
  lastSeenAt: string | null;
  lastHeartbeatAt: string | null;
  stateChangedAt: string;
  heartbeat: unknown;
  cameras: CameraView[];
}

/** One change of a node's state (`/api/nodes/:id/history`), newest first. */
export interface NodeStateChangeView {
  state: string;
  /**
   * `status`: the node's own status message or its last will; `master-start`: the master
   * restarted; `heartbeat-age`: no heartbeat for the stale age; `heartbeat`: one came again.
   */
  reason: string;
  at: string;
}

/** Messages on the master's dashboard websocket. */
export type FleetSocketMessage =
  | { type: 'snapshot'; nodes: NodeView[] }
  | { type: 'node'; node: NodeView }
  | FleetSocketEventMessage
  /** To admins only: a security alert raised or repeated (same id, higher count). */
  | { type: 'security'; alert: SecurityAlertView };

/**
 * A snapshot of an event's best frame, with absolute URLs on the storage gateway; they carry a
 * grant for the user they were made for and work for a few minutes.
 */
export interface EventSnapshotView {
  imageUrl: string;
  thumbnailUrl: string;
  at: string;
  width: number;
  height: number;
  blurred: boolean;
}

/** One stored event (`/api/events`, `/api/events/:id`, websocket `event`). */
export interface EventView {
  id: string;
  nodeId: string;
  cameraId: string;
  type: EventType;
  startedAt: string;
  endedAt: string | null;
  /** Time of the newest frame described so far. */
  lastAt: string;
  score: number;
  bestAt: string;
  boxes: EventBox[];
  zones: string[];
  frames: number;
  snapshot: EventSnapshotView | null;
  /** The seq of the newest message applied. */
  lastSeq: number;
  updatedAt: string;
}

/** A page of `/api/events`, newest first; `nextCursor` is null on the last page. */
export interface EventPage {
  events: EventView[];
  nextCursor: string | null;
}

/** Continuous recording coverage: segments closer than 1.5 s merged into one span. */
export interface RecordingSpan {
  start: string;
  end: string;
}

/** Event counts in one time bucket of a long timeline range. */
export interface EventBucket {
  start: string;
  end: string;
  motion: number;
  face: number;
  maxScore: number;
}

/**
 * `/api/cameras/:id/timeline`: recording spans plus either the events themselves (`events`, oldest
 * first) or, when the range holds more than `buckets` events, counts per bucket (`buckets`).
 */
export interface TimelineView {
  cameraId: string;
  from: string;
  to: string;
  spans: RecordingSpan[];
  events: EventView[] | null;
  buckets: EventBucket[] | null;
}

/** Pushed on the dashboard websocket after an event message was stored. */
export type FleetSocketEventMessage = { type: 'event'; event: EventView };
