import type { HeartbeatMessage } from '@cctv/protocol';

/**
 * The few figures of a node's last heartbeat the fleet table shows. The master validates the
 * heartbeat it serves (an invalid one comes as null), so its shape is the contract's.
 */
export interface HeartbeatFigures {
  cpuPercent: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  tempC: number | null;
}

export function heartbeatFigures(heartbeat: HeartbeatMessage | null): HeartbeatFigures {
  if (!heartbeat) return { cpuPercent: null, memUsedBytes: null, memTotalBytes: null, tempC: null };
  const { cpu, mem, tempC } = heartbeat;
  return {
    cpuPercent: cpu.percent,
    memUsedBytes: mem.totalBytes - mem.freeBytes,
    memTotalBytes: mem.totalBytes,
    tempC,
  };
}
