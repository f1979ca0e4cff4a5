/**
 * The figures of a node's last heartbeat that the fleet page shows beyond `heartbeatFigures`:
 * host CPU, spool disk, upload backlog and per-camera recording figures. Older agents omit
 * `host`, `disk.spoolTotalBytes` and `backlogOldestAt` (optional in the contract): those read null.
 */
import type { CameraHeartbeat, HeartbeatMessage } from '@cctv/protocol';
import { heartbeatFigures } from './heartbeat';

export interface CameraFigures {
  state: string | null;
  fps: number | null;
  bitrateKbps: number | null;
  lastSegmentAt: string | null;
  backlogFiles: number | null;
  backlogBytes: number | null;
  reason: string | null;
  /** Why the node stores the camera's own codec instead of encoding it; null: no fallback. */
  fallback: string | null;
}

export interface NodeFigures {
  /** The whole host, 100 = every core busy; null from agents that do not send `host`. */
  hostCpuPercent: number | null;
  /** The agent with its ffmpeg children, in percent of one core. */
  agentCpuPercent: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  tempC: number | null;
  spoolUsedBytes: number | null;
  spoolFreeBytes: number | null;
  /** Used share of the spool's file system, 0..1; null when the agent does not send its size. */
  diskUsedFraction: number | null;
  /** Segments waiting for upload, over every camera. */
  backlogFiles: number | null;
  backlogBytes: number | null;
  /** Start of the oldest segment waiting, over every camera. */
  backlogOldestAt: string | null;
  cameras: Map<string, CameraFigures>;
}

function cameraFigures(c: CameraHeartbeat): CameraFigures {
  return {
    state: c.state,
    fps: c.fps,
    bitrateKbps: c.bitrateKbps,
    lastSegmentAt: c.lastSegmentAt,
    backlogFiles: c.backlogFiles,
    backlogBytes: c.backlogBytes,
    reason: c.reason ?? null,
    fallback: c.fallback ?? null,
  };
}

export function nodeFigures(heartbeat: HeartbeatMessage | null): NodeFigures {
  const base = heartbeatFigures(heartbeat);
  const spoolUsed = heartbeat?.disk.spoolUsedBytes ?? null;
  const spoolFree = heartbeat?.disk.spoolFreeBytes ?? null;
  const spoolTotal = heartbeat?.disk.spoolTotalBytes ?? null;

  const cameras = new Map<string, CameraFigures>();
  let backlogFiles: number | null = null;
  let backlogBytes: number | null = null;
  let backlogOldestAt: string | null = null;
  for (const c of heartbeat?.cameras ?? []) {
    const figures = cameraFigures(c);
    cameras.set(c.id, figures);
    backlogFiles = (backlogFiles ?? 0) + c.backlogFiles;
    backlogBytes = (backlogBytes ?? 0) + c.backlogBytes;
    const oldest = c.backlogOldestAt ?? null;
    if (oldest && (backlogOldestAt === null || oldest < backlogOldestAt)) backlogOldestAt = oldest;
  }

  return {
    hostCpuPercent: heartbeat?.host?.cpuPercent ?? null,
    agentCpuPercent: base.cpuPercent,
    memUsedBytes: base.memUsedBytes,
    memTotalBytes: base.memTotalBytes,
    tempC: base.tempC,
    spoolUsedBytes: spoolUsed,
    spoolFreeBytes: spoolFree,
    diskUsedFraction:
      spoolTotal !== null && spoolTotal > 0 && spoolFree !== null
        ? (spoolTotal - spoolFree) / spoolTotal
        : null,
    backlogFiles,
    backlogBytes,
    backlogOldestAt,
    cameras,
  };
}
