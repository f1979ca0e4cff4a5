/**
 * Builds heartbeats from real figures: host CPU/load/memory/uptime, the agent's CPU and memory
 * with its ffmpeg children, SoC temperature, spool disk, and per camera recording, backlog and
 * the camera's own ffmpeg CPU/memory, whether live view is available, and the clock offset.
 */
import type {
  CameraHeartbeat,
  ClockHeartbeat,
  ConfigHeartbeat,
  HeartbeatMessage,
  LiveHeartbeat,
} from '@cctv/protocol';
import { type HostSample, HostSampler } from '../host/host-sampler.ts';
import { subtreeFigures } from '../host/process-tree.ts';
import type { RecorderStatus } from '../recorder/recorder.ts';

/**
 * What the recorder and uploader know about one camera. The optional parts default to 0 / null;
 * they accept null as well as absence so a recorder status can be spread in as it is.
 */
export interface CameraFigures
  extends Pick<
    RecorderStatus,
    'id' | 'state' | 'reason' | 'fps' | 'bitrateKbps' | 'lastSegmentAt' | 'segmentsRecorded'
  > {
  backlog: {
    files: number;
    bytes: number;
    /** Start of the oldest segment waiting for upload; null when nothing waits. */
    oldestAt?: Date | null;
  };
  /** Un-uploaded segments removed at the spool quota, since the agent started. */
  droppedSegments?: number;
  /** ffmpeg restarts after unexpected ends, since the agent started. */
  restarts?: number;
  /** RTSP transport in use; null when the source is not RTSP. */
  transport?: 'tcp' | 'udp' | null;
  mode?: 'copy' | 'transcode' | null;
  encoder?: string | null;
  /** Why the camera's own codec is stored instead of the encode (null: no fallback). */
  fallback?: string | null;
  /** The running ffmpeg (or the wrapper that runs it); its process subtree is this camera's CPU/RSS. */
  ffmpegPid?: number;
}

export interface HeartbeatSources {
  spoolDir: string;
  cameras: () => CameraFigures[];
  /** Shared with /metrics so both read the same CPU intervals; one is built when absent. */
  host?: HostSampler;
  /** Live view availability; left out of the heartbeat when absent. */
  live?: () => LiveHeartbeat;
  /** Management mode and desired-config version; left out when absent. */
  config?: () => ConfigHeartbeat;
  /** The latest clock measurement; left out while there is none. */
  clock?: () => ClockHeartbeat | null;
  now?: () => Date;
  /** Process uptime in seconds. */
  uptimeS?: () => number;
}

const tenth = (v: number) => Math.round(v * 10) / 10;
const whole = (v: number) => Math.max(0, Math.round(v));

export function heartbeatBuilder(sources: HeartbeatSources): () => Promise<HeartbeatMessage> {
  const host = sources.host ?? new HostSampler({ spoolDir: sources.spoolDir });
  let seq = 0;
  return async () => {
    const s = await host.sample();
    const uptimeS = tenth(sources.uptimeS?.() ?? process.uptime());
    const cpuPercent = tenth(s.total.cpuPercent);
    const rssBytes = whole(s.total.rssBytes);
    const live = sources.live?.();
    const config = sources.config?.();
    const clock = sources.clock?.() ?? null;
    return {
      seq: seq++,
      at: (sources.now?.() ?? new Date()).toISOString(),
      uptimeS,
      cpu: { percent: cpuPercent, load1: s.host.load1 },
      mem: { rssBytes, totalBytes: s.host.memTotalBytes, freeBytes: s.host.memAvailableBytes },
      tempC: s.tempC,
      disk: {
        spoolFreeBytes: s.disk.spoolFreeBytes,
        spoolUsedBytes: s.disk.spoolUsedBytes,
        spoolTotalBytes: s.disk.spoolTotalBytes,
      },
      host: {
        cpuPercent: tenth(s.host.cpuPercent),
        load1: s.host.load1,
        load5: s.host.load5,
        load15: s.host.load15,
        memTotalBytes: s.host.memTotalBytes,
        memFreeBytes: s.host.memFreeBytes,
        memAvailableBytes: s.host.memAvailableBytes,
        uptimeS: tenth(s.host.uptimeS),
      },
      agent: {
        cpuPercent,
        rssBytes,
        selfCpuPercent: tenth(s.agent.cpuPercent),
        selfRssBytes: whole(s.agent.rssBytes),
        children: s.children.size,
        uptimeS,
      },
      ...(live ? { live: { ...live, ...(live.reason ? { reason: live.reason.slice(0, 300) } : {}) } } : {}),
      ...(config ? { config } : {}),
      ...(clock ? { clock } : {}),
      cameras: sources.cameras().map((c) => cameraHeartbeat(c, s)),
    };
  };
}

export function cameraHeartbeat(c: CameraFigures, s: Pick<HostSample, 'children'>): CameraHeartbeat {
  const ffmpeg = c.ffmpegPid !== undefined ? subtreeFigures(s, c.ffmpegPid) : null;
  return {
    id: c.id,
    state: c.state,
    ...(c.reason ? { reason: c.reason.slice(0, 300) } : {}),
    fps: c.fps,
    bitrateKbps: c.bitrateKbps,
    lastSegmentAt: c.lastSegmentAt?.toISOString() ?? null,
    segmentsRecorded: c.segmentsRecorded,
    backlogFiles: c.backlog.files,
    backlogBytes: c.backlog.bytes,
    // Unknown (the uploader does not say) with files waiting: left out rather than a false null.
    ...(c.backlog.oldestAt !== undefined || c.backlog.files === 0
      ? { backlogOldestAt: c.backlog.oldestAt?.toISOString() ?? null }
      : {}),
    droppedSegments: c.droppedSegments ?? 0,
    restarts: c.restarts ?? 0,
    transport: c.transport ?? null,
    ...(c.mode ? { mode: c.mode } : {}),
    ...(c.encoder ? { encoder: c.encoder.slice(0, 64) } : {}),
    ...(c.fallback ? { fallback: c.fallback.slice(0, 300) } : {}),
    // Left out while no ffmpeg runs (between restarts): unknown, not zero.
    ...(ffmpeg ? { cpuPercent: tenth(ffmpeg.cpuPercent), rssBytes: whole(ffmpeg.rssBytes) } : {}),
  };
}
