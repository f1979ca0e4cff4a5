/**
 * A node's stored heartbeat, read back: checked again against the schema, since a row written
 * by an older master must not reach a dashboard as if it were current (node-repository.ts).
 */
import type { Node } from '@cctv/db';
import { type HeartbeatMessage, validators } from '@cctv/protocol';

/** Told of a stored heartbeat that no longer matches the schema (it is served as null). */
export type InvalidHeartbeatReport = (nodeId: string, error: string) => void;

/**
 * The stored heartbeat, checked again on read: it was valid when stored, but a row written by an
 * older master (an older schema) must not reach a dashboard as if it were current.
 */
export function checkedHeartbeat(n: Node, report: InvalidHeartbeatReport): HeartbeatMessage | null {
  if (n.lastHeartbeat === null) return null;
  const parsed = validators.heartbeat.validate(n.lastHeartbeat);
  if (parsed.ok) return parsed.value;
  report(n.id, parsed.error);
  return null;
}

/**
 * The stored heartbeat for `listJson`, which does not parse rows in the master: heartbeats are
 * validated before they are stored, so only a row of an older schema could be off, and this
 * keeps the objects a dashboard reads through (`cpu`, `mem`, `disk`, `cameras`) from being
 * absent; anything else is null. `get` and `list` check the whole schema.
 */
export const HEARTBEAT_SQL = `CASE WHEN jsonb_typeof(n."lastHeartbeat"->'cpu') = 'object'
  AND jsonb_typeof(n."lastHeartbeat"->'mem') = 'object' AND jsonb_typeof(n."lastHeartbeat"->'disk') = 'object'
  AND jsonb_typeof(n."lastHeartbeat"->'cameras') = 'array' THEN n."lastHeartbeat" END`;
