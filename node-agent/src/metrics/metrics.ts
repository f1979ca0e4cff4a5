/** Prometheus figures for the agent, on its own registry; served only when httpPort is set. */
import { createServer, type Server } from 'node:http';
import type { CameraState } from '@cctv/protocol';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

const STATES: CameraState[] = ['starting', 'recording', 'reconnecting', 'failed', 'stopped'];

export interface CameraGaugeSource {
  id: string;
  state: CameraState;
  backlog: { files: number; bytes: number };
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly recorded: Counter<'camera'>;
  private readonly uploaded: Counter<'camera'>;
  private readonly failed: Counter<'camera' | 'kind'>;

  constructor(cameras: () => CameraGaugeSource[]) {
    const registers = [this.registry];
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
}

/** `GET /metrics` on the port; resolves with the server once listening. */
export async function startMetricsServer(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
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
