/**
 * `cctv_agent_clock_offset_seconds`: registered at the first clock measurement, so an agent
 * that has none (its master does not answer) shows no series rather than a false 0.
 */
import { Gauge, type Registry } from 'prom-client';

export class ClockGauge {
  private gauge: Gauge | null = null;

  constructor(private readonly registry: Registry) {}

  /** The latest offset: the agent's clock minus the master's. */
  set(offsetMs: number): void {
    this.gauge ??= new Gauge({
      name: 'cctv_agent_clock_offset_seconds',
      help: "This node's clock minus the master's, from the latest measurement (positive: ahead)",
      registers: [this.registry],
    });
    this.gauge.set(offsetMs / 1000);
  }
}
