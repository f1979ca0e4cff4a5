/**
 * The figures of a node's last heartbeat that the fleet page shows beyond `heartbeatFigures`:
 * host CPU, spool disk, upload backlog and per-camera recording figures. The master passes the
 * heartbeat through as `unknown`, so every field is read without trusting its shape (older
 * agents omit `host`, `disk.spoolTotalBytes` and `backlogOldestAt`).
 */
import { heartbeatFigures } from './heartbeat';

export interface CameraFigures {
  state: string | null;
  fps: number | null;
  bitrateKbps: number | null;
  lastSegmentAt: string | null;
  backlogFiles: number | null;
  backlogBytes: number | null;
  reason: string | null;
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

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function cameraFigures(c: Record<string, unknown>): CameraFigures {
  return {
    state: str(c.state),
    fps: num(c.fps),
    bitrateKbps: num(c.bitrateKbps),
    lastSegmentAt: str(c.lastSegmentAt),
    backlogFiles: num(c.backlogFiles),
    backlogBytes: num(c.backlogBytes),
    reason: str(c.reason),
  };
}

export function nodeFigures(heartbeat: unknown): NodeFigures {
  const base = heartbeatFigures(heartbeat);
  const hb = isRecord(heartbeat) ? heartbeat : {};
  const host = isRecord(hb.host) ? hb.host : {};
  const disk = isRecord(hb.disk) ? hb.disk : {};
  const spoolUsed = num(disk.spoolUsedBytes);
  const spoolFree = num(disk.spoolFreeBytes);
  const spoolTotal = num(disk.spoolTotalBytes);

  const cameras = new Map<string, CameraFigures>();
  let backlogFiles: number | null = null;
  let backlogBytes: number | null = null;
  let backlogOldestAt: string | null = null;
  for (const c of Array.isArray(hb.cameras) ? hb.cameras : []) {
    if (!isRecord(c) || typeof c.id !== 'string') continue;
    const figures = cameraFigures(c);
    cameras.set(c.id, figures);
    if (figures.backlogFiles !== null) backlogFiles = (backlogFiles ?? 0) + figures.backlogFiles;
    if (figures.backlogBytes !== null) backlogBytes = (backlogBytes ?? 0) + figures.backlogBytes;
    const oldest = str(c.backlogOldestAt);
    if (oldest && (backlogOldestAt === null || oldest < backlogOldestAt)) backlogOldestAt = oldest;
  }

  return {
    hostCpuPercent: num(host.cpuPercent),
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
