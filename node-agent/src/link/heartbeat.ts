/** Builds heartbeats from real figures: process CPU, memory, SoC temperature, spool disk, cameras. */
import type { CameraHeartbeat, HeartbeatMessage } from '@cctv/protocol';
import { cpuSampler, diskFree, memory, socTemperature } from '../host/system-stats.ts';
import type { RecorderStatus } from '../recorder/recorder.ts';
import { spoolUsedBytes } from '../spool/scan.ts';

export interface CameraFigures extends RecorderStatus {
  backlog: { files: number; bytes: number };
}

export interface HeartbeatSources {
  spoolDir: string;
  cameras: () => CameraFigures[];
  now?: () => Date;
  /** Process uptime in seconds. */
  uptimeS?: () => number;
}

export function heartbeatBuilder(sources: HeartbeatSources): () => Promise<HeartbeatMessage> {
  const sampleCpu = cpuSampler();
  let seq = 0;
  return async () => {
    const [tempC, spoolFreeBytes, spoolUsed] = await Promise.all([
      socTemperature(),
      diskFree(sources.spoolDir),
      spoolUsedBytes(sources.spoolDir),
    ]);
    const cameras: CameraHeartbeat[] = sources.cameras().map((c) => ({
      id: c.id,
      state: c.state,
      ...(c.reason ? { reason: c.reason.slice(0, 300) } : {}),
      fps: c.fps,
      bitrateKbps: c.bitrateKbps,
      lastSegmentAt: c.lastSegmentAt?.toISOString() ?? null,
      segmentsRecorded: c.segmentsRecorded,
      backlogFiles: c.backlog.files,
      backlogBytes: c.backlog.bytes,
    }));
    return {
      seq: seq++,
      at: (sources.now?.() ?? new Date()).toISOString(),
      uptimeS: Math.round((sources.uptimeS?.() ?? process.uptime()) * 10) / 10,
      cpu: sampleCpu(),
      mem: memory(),
      tempC,
      disk: { spoolFreeBytes, spoolUsedBytes: spoolUsed },
      cameras,
    };
  };
}
