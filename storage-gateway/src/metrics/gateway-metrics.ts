import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { REJECT_REASONS, type RejectReason } from '../ingest/ingest-error.ts';
import { SNAPSHOT_REJECT_REASONS, type SnapshotRejectReason } from '../snapshots/snapshot-error.ts';

/** The gateway's Prometheus metrics, on a registry of its own (several gateways per test process). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({
    name: 'cctv_gateway_segments_ingested_total',
    help: 'Segments acknowledged as durable for the first time, by kind (media, init)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'cctv_gateway_segments_rejected_total',
    help: 'Segment uploads refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly bytesIngested = new Counter({
    name: 'cctv_gateway_bytes_ingested_total',
    help: 'Bytes of segments acknowledged as durable',
    registers: [this.registry],
  });
  readonly nasMoves = new Counter({
    name: 'cctv_gateway_nas_moves_total',
    help: 'Segments copied to the NAS, verified and removed from the buffer',
    registers: [this.registry],
  });
  readonly nasFailures = new Counter({
    name: 'cctv_gateway_nas_failures_total',
    help: 'Failed attempts to move a segment to the NAS (each is retried)',
    registers: [this.registry],
  });
  readonly snapshotsStored = new Counter({
    name: 'cctv_gateway_snapshots_stored_total',
    help: 'Event snapshots acknowledged as durable for the first time',
    registers: [this.registry],
  });
  readonly snapshotBytesStored = new Counter({
    name: 'cctv_gateway_snapshot_bytes_stored_total',
    help: 'Bytes of event snapshots acknowledged as durable',
    registers: [this.registry],
  });
  // Apart from the segment counter: the reasons differ (not_jpeg), and a label added to the
  // existing series would change every query on it.
  readonly snapshotsRejected = new Counter({
    name: 'cctv_gateway_snapshots_rejected_total',
    help: 'Event snapshot uploads refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly bufferSegments = new Gauge({
    name: 'cctv_gateway_buffer_segments',
    help: 'Segments waiting in the local buffer for the NAS',
    registers: [this.registry],
  });

  constructor() {
    for (const reason of REJECT_REASONS) this.rejected.inc({ reason }, 0);
    for (const reason of SNAPSHOT_REJECT_REASONS) this.snapshotsRejected.inc({ reason }, 0);
    for (const kind of ['media', 'init']) this.ingested.inc({ kind }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: 'cctv_gateway_' });
  }

  reject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  rejectSnapshot(reason: SnapshotRejectReason): void {
    this.snapshotsRejected.inc({ reason });
  }
}
