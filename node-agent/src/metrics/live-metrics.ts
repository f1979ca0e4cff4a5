import { Counter, Gauge, type Registry } from 'prom-client';

/** Live view figures: viewers per camera and kind, and refusals by reason. */
export class LiveMetrics {
  private readonly viewersGauge: Gauge<'camera' | 'kind'>;
  private readonly refusedCounter: Counter<'reason'>;

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
  }

  viewers(camera: string, kind: 'webrtc' | 'jsmpeg', n: number): void {
    this.viewersGauge.set({ camera, kind }, n);
  }

  refused(reason: string): void {
    this.refusedCounter.inc({ reason: String(reason).slice(0, 40) });
  }
}
