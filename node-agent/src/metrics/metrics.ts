/** Prometheus figures for the agent, on its own registry; served only when httpPort is set. */
import { createServer, type Server } from 'node:http';
import type { CameraState } from '@cctv/protocol';
import { type MetricsAccess, metricsAllowed, metricsVerdict } from '@cctv/tls/metrics-access';
import { registerDefaultMetrics } from '@cctv/tls/service-metrics';
import { Counter, Gauge, Registry } from 'prom-client';
import type { HostSampler } from '../host/host-sampler.ts';
import { registerHostGauges } from './host-gauges.ts';

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
  private readonly failovers: Counter;
  private readonly now: () => Date;
  /** The cameras' figures, read at each scrape; none until `observe()`. */
  private cameras: (() => CameraGaugeSource[]) | null = null;

  /**
   * The counters; the gauges of `cameras` (and of `opts.host`) now when given, else once
   * `observe()` names them (the parts they read are made after the ones that count into here).
   */
  constructor(cameras?: () => CameraGaugeSource[], opts: AgentMetricsOptions = {}) {
    const registers = [this.registry];
    this.now = opts.now ?? (() => new Date());
    const observed = () => this.cameras?.() ?? [];
    registerDefaultMetrics(this.registry, 'cctv_agent_');
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
        for (const c of observed()) for (const reason of DROP_REASONS) this.inc({ camera: c.id, reason }, 0);
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
    this.failovers = new Counter({
      name: 'cctv_agent_gateway_failovers_total',
      help: 'Switches to a gateway further down gateway.fallbackUrls after the one in use refused service',
      registers,
    });
    this.restarts = new Counter({
      name: 'cctv_agent_ffmpeg_restarts_total',
      help: 'ffmpeg restarts after an unexpected end, by reason (exit, stall, unreachable)',
      labelNames: ['camera', 'reason'],
      registers,
      collect() {
        for (const c of observed())
          for (const reason of RESTART_REASONS) this.inc({ camera: c.id, reason }, 0);
      },
    });
    if (cameras) this.observe(cameras, opts.host);
  }

  /** Registers the per-camera gauges (and the host's, with a sampler); once. */
  observe(cameras: () => CameraGaugeSource[], host?: HostSampler): void {
    if (this.cameras) throw new Error('metrics: cameras are observed already');
    this.cameras = cameras;
    const registers = [this.registry];
    const now = this.now;
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
    if (host) registerHostGauges(this.registry, host, cameras);
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
  /** Uploads moved to the next gateway in order: the one in use refused service. */
  gatewayFailover(): void {
    this.failovers.inc();
  }
  /** A command on `cmd/*` was refused: malformed, or no such command here. */
  commandRejected(reason: string): void {
    this.commandsRejected.inc({ reason });
  }
  /** A `/metrics` request without the bearer token (`missing`) or with a wrong one. */
  scrapeRefused(reason: 'missing' | 'wrong'): void {
    this.scrapesRefused.inc({ reason });
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
