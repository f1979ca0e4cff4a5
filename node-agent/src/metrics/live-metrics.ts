import { Counter, Gauge, type Registry } from 'prom-client';

export type LiveKind = 'webrtc' | 'jsmpeg';

/** Live view figures: viewers per camera and kind, refusals by reason, and availability. */
export class LiveMetrics {
  private readonly viewersGauge: Gauge<'camera' | 'kind'>;
  private readonly refusedCounter: Counter<'reason'>;
  private readonly availableGauge: Gauge<'kind'>;
  private readonly listenFailures: Counter<'kind'>;
  private readonly feedsGauge: Gauge;

  constructor(registry: Registry) {
    this.viewersGauge = new Gauge({
      name: 'cctv_agent_live_viewers',
      help: 'Live viewers now, by camera and kind (webrtc, jsmpeg)',
      labelNames: ['camera', 'kind'],
      registers: [registry],
    });
    this.refusedCounter = new Counter({
      name: 'cctv_agent_live_refused_total',
      help: 'Live views refused: LIVE_LIMIT, LIVE_UNSUPPORTED, bad_ticket, unknown_path, …',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.availableGauge = new Gauge({
      name: 'cctv_agent_live_available',
      help: 'Live view kind serving (1) or configured but unavailable (0), e.g. its port in use; absent when off',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.listenFailures = new Counter({
      name: 'cctv_agent_live_listen_failures_total',
      help: 'Failed attempts to open a live view listening port (retried with backoff)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.feedsGauge = new Gauge({
      name: 'cctv_agent_live_feeds',
      help: 'Cameras whose low-latency live HLS feed is being sent to the gateway',
      registers: [registry],
    });
  }

  feeds(n: number): void {
    this.feedsGauge.set(n);
  }

  /** A kind with a port of its own to listen on: unavailable until it does, failures from 0. */
  listens(kind: LiveKind): void {
    this.available(kind, false);
    this.listenFailures.inc({ kind }, 0);
  }

  available(kind: LiveKind, up: boolean): void {
    this.availableGauge.set({ kind }, up ? 1 : 0);
  }

  listenFailed(kind: LiveKind): void {
    this.listenFailures.inc({ kind });
  }

  viewers(camera: string, kind: LiveKind, n: number): void {
    this.viewersGauge.set({ camera, kind }, n);
  }

  refused(reason: string): void {
    this.refusedCounter.inc({ reason: String(reason).slice(0, 40) });
  }
}
