/** Prometheus figures of the detection path, registered next to the agent's other metrics. */
import type { EventMessage } from '@cctv/protocol';
import { Counter, Histogram, type Registry } from 'prom-client';

export type SnapshotOutcome = 'stored' | 'encode' | 'refused' | 'dropped';

export class AnalysisMetrics {
  private readonly frames: Counter<'camera'>;
  private readonly motionSeconds: Histogram;
  private readonly inferenceSeconds: Histogram;
  private readonly events: Counter<'camera' | 'type'>;
  private readonly snapshots: Counter<'result'>;
  private readonly restarts: Counter<'camera' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.frames = new Counter({
      name: 'cctv_agent_analysis_frames_total',
      help: 'Analysis frames decoded and run through motion detection',
      labelNames: ['camera'],
      registers,
    });
    this.motionSeconds = new Histogram({
      name: 'cctv_agent_motion_frame_seconds',
      help: 'Motion detection time per analysis frame',
      buckets: [0.00005, 0.0001, 0.00015, 0.0002, 0.0005, 0.001, 0.005],
      registers,
    });
    this.inferenceSeconds = new Histogram({
      name: 'cctv_agent_face_inference_seconds',
      help: 'Face detector inference time per call',
      buckets: [0.004, 0.006, 0.008, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.events = new Counter({
      name: 'cctv_agent_events_total',
      help: 'Events started, by type',
      labelNames: ['camera', 'type'],
      registers,
    });
    this.snapshots = new Counter({
      name: 'cctv_agent_snapshots_total',
      help: 'Snapshot files: stored at the gateway, or lost (encode failed, refused, dropped by the pending cap)',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['stored', 'encode', 'refused', 'dropped']) this.snapshots.inc({ result }, 0);
    this.restarts = new Counter({
      name: 'cctv_agent_analysis_restarts_total',
      help: 'Unexpected ends of a camera analysis ffmpeg, by cause',
      labelNames: ['camera', 'reason'],
      registers,
    });
  }

  frame(camera: string, motionMs: number): void {
    this.frames.inc({ camera });
    this.motionSeconds.observe(motionMs / 1000);
  }

  inference(ms: number): void {
    this.inferenceSeconds.observe(ms / 1000);
  }

  event(message: EventMessage): void {
    if (message.phase === 'start') this.events.inc({ camera: message.cameraId, type: message.type });
  }

  snapshot(result: SnapshotOutcome): void {
    this.snapshots.inc({ result });
  }

  restarted(camera: string, reason: string): void {
    this.restarts.inc({ camera, reason });
  }
}
