/** Prometheus figures for the agent, on its own registry; served only when httpPort is set. */
import { createServer, type Server } from 'node:http';
import type { CameraState } from '@cctv/protocol';
import { type MetricsAccess, metricsAllowed, metricsVerdict } from '@cctv/tls/metrics-access';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { HostSample, HostSampler } from '../host/host-sampler.ts';
import { subtreeFigures } from '../host/process-tree.ts';

const STATES: CameraState[] = ['starting', 'recording', 'reconnecting', 'failed', 'stopped'];

/** Why ffmpeg was restarted: it exited by itself, stalled (no output), or the camera was unreachable. */
export type FfmpegRestartReason = 'exit' | 'stall' | 'unreachable';
const RESTART_REASONS: FfmpegRestartReason[] = ['exit', 'stall', 'unreachable'];

/** Why an un-uploaded segment was dropped: the spool quota, or it vanished from disk before upload. */
export type SegmentDropReason = 'quota' | 'missing';
const DROP_REASONS: SegmentDropReason[] = ['quota', 'missing'];

/** Per camera; a link/heartbeat.ts CameraFigures fits. Optional parts without a value give no series. */
export interface CameraGaugeSource {
  id: string;
  state: CameraState;
  fps?: number;
  bitrateKbps?: number;
  lastSegmentAt?: Date | null;
  backlog: { files: number; bytes: number; oldestAt?: Date | null };
  ffmpegPid?: number;
}

export interface AgentMetricsOptions {
  /** Host, agent and per-camera ffmpeg CPU/memory/disk gauges; left out without it. Share it with heartbeats. */
  host?: HostSampler;
  /** Wall clock, for backlog ages. */
  now?: () => Date;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly recorded: Counter<'camera'>;
  private readonly uploaded: Counter<'camera'>;
  private readonly failed: Counter<'camera' | 'kind'>;
  private readonly dropped: Counter<'camera' | 'reason'>;
  private readonly restarts: Counter<'camera' | 'reason'>;
  private readonly commandsRejected: Counter<'reason'>;
  private readonly scrapesRefused: Counter<'reason'>;

  constructor(cameras: () => CameraGaugeSource[], opts: AgentMetricsOptions = {}) {
    const registers = [this.registry];
    const now = opts.now ?? (() => new Date());
    collectDefaultMetrics({ register: this.registry, prefix: 'cctv_agent_' });
    this.recorded = new Counter({
      name: 'cctv_agent_segments_recorded_total',
      help: 'Segments finished by ffmpeg',
      labelNames: ['camera'],
      registers,
    });
    this.uploaded = new Counter({
      name: 'cctv_agent_segments_uploaded_total',
      help: 'Segments acknowledged by the gateway',
      labelNames: ['camera'],
      registers,
    });
    this.failed = new Counter({
      name: 'cctv_agent_segment_upload_failures_total',
      help: 'Failed upload attempts; kind=retry will be retried, kind=skipped was given up',
      labelNames: ['camera', 'kind'],
      registers,
    });
    // Both start at 0 for every camera and reason, so increase() and alerts see the first event.
    this.dropped = new Counter({
      name: 'cctv_agent_segments_dropped_total',
      help: 'Segments removed from the spool before they were uploaded, by reason',
      labelNames: ['camera', 'reason'],
      registers,
      collect() {
        for (const c of cameras()) for (const reason of DROP_REASONS) this.inc({ camera: c.id, reason }, 0);
      },
    });
    this.commandsRejected = new Counter({
      name: 'cctv_agent_commands_rejected_total',
      help: 'Commands refused before running: BAD_REQUEST (malformed) or UNKNOWN_COMMAND',
      labelNames: ['reason'],
      registers,
    });
    this.scrapesRefused = new Counter({
      name: 'cctv_agent_metrics_refused_total',
      help: '/metrics requests refused with 401: no bearer token (missing) or a wrong one',
      labelNames: ['reason'],
      registers,
    });
    this.restarts = new Counter({
      name: 'cctv_agent_ffmpeg_restarts_total',
      help: 'ffmpeg restarts after an unexpected end, by reason (exit, stall, unreachable)',
      labelNames: ['camera', 'reason'],
      registers,
      collect() {
        for (const c of cameras())
          for (const reason of RESTART_REASONS) this.inc({ camera: c.id, reason }, 0);
      },
    });
    new Gauge({
      name: 'cctv_agent_backlog_files',
      help: 'Segments waiting for upload',
      labelNames: ['camera'],
      registers,
      collect() {
        for (const c of cameras()) this.set({ camera: c.id }, c.backlog.files);
      },
    });
    new Gauge({
      name: 'cctv_agent_backlog_bytes',
      help: 'Bytes waiting for upload',
      labelNames: ['camera'],
      registers,
      collect() {
        for (const c of cameras()) this.set({ camera: c.id }, c.backlog.bytes);
      },
    });
    new Gauge({
      name: 'cctv_agent_camera_state',
      help: 'Camera state (1 for the current state)',
      labelNames: ['camera', 'state'],
      registers,
      collect() {
        for (const c of cameras())
          for (const s of STATES) this.set({ camera: c.id, state: s }, c.state === s ? 1 : 0);
      },
    });
    const cameraGauge = (name: string, help: string, value: (c: CameraGaugeSource) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['camera'],
        registers,
        collect() {
          this.reset();
          for (const c of cameras()) {
            const v = value(c);
            if (v !== null) this.set({ camera: c.id }, v);
          }
        },
      });
    cameraGauge('cctv_agent_camera_fps', 'Frames per second of the recent segments', (c) => c.fps ?? null);
    cameraGauge(
      'cctv_agent_camera_bitrate_kbps',
      'Bitrate of the recent segments',
      (c) => c.bitrateKbps ?? null,
    );
    cameraGauge(
      'cctv_agent_camera_last_segment_timestamp_seconds',
      'Unix time of the last finished segment',
      (c) => (c.lastSegmentAt ? c.lastSegmentAt.getTime() / 1000 : null),
    );
    cameraGauge(
      'cctv_agent_backlog_oldest_age_seconds',
      'Age of the oldest segment waiting for upload',
      (c) => {
        if (c.backlog.oldestAt) return Math.max(0, (now().getTime() - c.backlog.oldestAt.getTime()) / 1000);
        return c.backlog.files === 0 || c.backlog.oldestAt === null ? 0 : null;
      },
    );
    if (opts.host) this.hostGauges(opts.host, cameras);
  }

  segmentRecorded(camera: string): void {
    this.recorded.inc({ camera });
  }
  segmentUploaded(camera: string): void {
    this.uploaded.inc({ camera });
  }
  uploadFailed(camera: string, willRetry: boolean): void {
    this.failed.inc({ camera, kind: willRetry ? 'retry' : 'skipped' });
  }
  /** An un-uploaded segment left the spool without reaching the gateway. */
  segmentDropped(camera: string, reason: SegmentDropReason): void {
    this.dropped.inc({ camera, reason });
  }
  ffmpegRestarted(camera: string, reason: FfmpegRestartReason): void {
    this.restarts.inc({ camera, reason });
  }
  /** A command on `cmd/*` was refused: malformed, or no such command here. */
  commandRejected(reason: string): void {
    this.commandsRejected.inc({ reason });
  }
  /** A `/metrics` request without the bearer token (`missing`) or with a wrong one. */
  scrapeRefused(reason: 'missing' | 'wrong'): void {
    this.scrapesRefused.inc({ reason });
  }

  private hostGauges(host: HostSampler, cameras: () => CameraGaugeSource[]): void {
    const registers = [this.registry];
    // Every gauge asks the sampler; one scrape gets one reading (it is cached and shared).
    const gauge = (name: string, help: string, value: (s: HostSample) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(value(await host.sample()));
        },
      });
    gauge(
      'cctv_agent_host_cpu_percent',
      'Host CPU use, percent of all cores (100 = all busy)',
      (s) => s.host.cpuPercent,
    );
    gauge(
      'cctv_agent_cpu_percent',
      'Agent CPU with its ffmpeg children, percent of one core',
      (s) => s.total.cpuPercent,
    );
    gauge('cctv_agent_rss_bytes', 'Agent resident memory with its ffmpeg children', (s) => s.total.rssBytes);
    gauge('cctv_agent_load1', 'Host load average over 1 minute', (s) => s.host.load1);
    gauge('cctv_agent_load5', 'Host load average over 5 minutes', (s) => s.host.load5);
    gauge('cctv_agent_load15', 'Host load average over 15 minutes', (s) => s.host.load15);
    gauge('cctv_agent_host_memory_total_bytes', 'Host memory (MemTotal)', (s) => s.host.memTotalBytes);
    gauge(
      'cctv_agent_host_memory_available_bytes',
      'Host memory available (MemAvailable)',
      (s) => s.host.memAvailableBytes,
    );
    gauge('cctv_agent_host_uptime_seconds', 'Seconds since the host booted', (s) => s.host.uptimeS);
    // Labelled by zone: an unlabelled gauge always shows a value, and 0 °C would be a lie.
    new Gauge({
      name: 'cctv_agent_soc_temperature_celsius',
      help: 'SoC temperature by thermal zone type; absent when the host has none',
      labelNames: ['zone'],
      registers,
      async collect() {
        const s = await host.sample();
        this.reset();
        if (s.tempC !== null) this.set({ zone: s.thermalZone ?? 'unknown' }, s.tempC);
      },
    });
    gauge('cctv_agent_spool_free_bytes', 'Free bytes on the spool file system', (s) => s.disk.spoolFreeBytes);
    gauge('cctv_agent_spool_total_bytes', 'Size of the spool file system', (s) => s.disk.spoolTotalBytes);
    gauge('cctv_agent_spool_used_bytes', 'Bytes of segments in the spool', (s) => s.disk.spoolUsedBytes);
    const ffmpegGauge = (name: string, help: string, pick: 'cpuPercent' | 'rssBytes') =>
      new Gauge({
        name,
        help,
        labelNames: ['camera'],
        registers,
        async collect() {
          const s = await host.sample();
          this.reset();
          for (const c of cameras()) {
            const f = c.ffmpegPid !== undefined ? subtreeFigures(s, c.ffmpegPid) : null;
            if (f) this.set({ camera: c.id }, f[pick]);
          }
        },
      });
    ffmpegGauge(
      'cctv_agent_camera_cpu_percent',
      "The camera's ffmpeg CPU, percent of one core",
      'cpuPercent',
    );
    ffmpegGauge('cctv_agent_camera_rss_bytes', "The camera's ffmpeg resident memory", 'rssBytes');
  }
}

/**
 * `GET /metrics` on the port; resolves with the server once listening. With a token in
 * `access`, peers other than loopback need `Authorization: Bearer <token>` (else 401).
 */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
  access: MetricsAccess = { token: null, loopback: 'exempt' },
  onRefused: (reason: 'missing' | 'wrong') => void = () => {},
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      const verdict = metricsVerdict(access, req.socket.remoteAddress, req.headers.authorization);
      if (!metricsAllowed(verdict)) {
        onRefused(verdict === 'missing' ? 'missing' : 'wrong');
        res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' });
        res.end('metrics need a bearer token\n');
        return;
      }
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err.message);
        });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
