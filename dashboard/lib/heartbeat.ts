/**
 * The master passes the agent's last heartbeat through as `unknown`; this reads the few
 * figures the fleet table shows without trusting its shape.
 */
export interface HeartbeatFigures {
  cpuPercent: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  tempC: number | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function heartbeatFigures(heartbeat: unknown): HeartbeatFigures {
  const hb = isRecord(heartbeat) ? heartbeat : {};
  const cpu = isRecord(hb.cpu) ? hb.cpu : {};
  const mem = isRecord(hb.mem) ? hb.mem : {};
  const total = num(mem.totalBytes);
  const free = num(mem.freeBytes);
  return {
    cpuPercent: num(cpu.percent),
    memUsedBytes: total !== null && free !== null ? total - free : null,
    memTotalBytes: total,
    tempC: num(hb.tempC),
  };
}
