import { registerDefaultMetrics } from '@cctv/tls/service-metrics';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GRANT_REFUSALS } from '../auth/grant-verifier.ts';
import { PEER_READ_RESULTS } from '../cluster/peer-forwarder.ts';
import { REJECT_REASONS, type RejectReason } from '../ingest/ingest-error.ts';
import { NAS_FAILURE_REASONS, type NasFailureReason } from '../nas/nas-errors.ts';
import { RENDITION_RESULTS } from '../rendition/rendition-service.ts';
import { RETENTION_REASONS } from '../retention/retention-sweeper.ts';
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
  readonly metricsRefused = new Counter({
    name: 'cctv_gateway_metrics_refused_total',
    help: '/metrics requests refused with 401: no bearer token (missing) or a wrong one',
    labelNames: ['reason'],
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
    help: 'Failed attempts to move a segment to the NAS (each is retried), by reason',
    labelNames: ['reason'],
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

  // --- Buffer, NAS writer and index reconciliation ---------------------------------------
  /** Read when Prometheus scrapes; set by the gateway once its parts exist. */
  private sources = { bufferBytes: () => 0, oldestAgeS: () => 0 };
  readonly bufferBytes: Gauge = new Gauge({
    name: 'cctv_gateway_buffer_bytes',
    help: 'Bytes waiting in the local buffer for the NAS, plus bodies being received',
    registers: [this.registry],
    collect: (): void => this.bufferBytes.set(this.sources.bufferBytes()),
  });
  readonly bufferOldestAge: Gauge = new Gauge({
    name: 'cctv_gateway_buffer_oldest_age_seconds',
    help: 'Age of the oldest acknowledged segment not yet on the NAS (0 when none waits)',
    registers: [this.registry],
    collect: (): void => this.bufferOldestAge.set(this.sources.oldestAgeS()),
  });
  private bufferDisk: () => Promise<{ freeBytes: number } | null> = async () => null;
  readonly bufferFreeBytes: Gauge = new Gauge({
    name: 'cctv_gateway_buffer_free_bytes',
    help: "Free bytes on the buffer's file system (where uploads are acknowledged)",
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const disk = await this.bufferDisk();
      if (disk) this.bufferFreeBytes.set(disk.freeBytes);
    },
  });
  readonly nasVerifiedBytes = new Counter({
    name: 'cctv_gateway_nas_verified_bytes_total',
    help: 'Bytes copied to the NAS and read back with their acknowledged sha256',
    registers: [this.registry],
  });
  readonly nasWriteSeconds = new Histogram({
    name: 'cctv_gateway_nas_write_seconds',
    help: 'Time to copy one segment to the NAS: write, fsync, rename, directory fsync, read-back',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly nasUp = new Gauge({
    name: 'cctv_gateway_nas_up',
    help: '1 while NAS writes succeed, 0 while they fail (see cctv_gateway_nas_failures_total)',
    registers: [this.registry],
  });
  readonly bufferDamaged = new Counter({
    name: 'cctv_gateway_buffer_damaged_total',
    help: 'Buffered segments that no longer hash to their acknowledged sha256 (local disk fault)',
    registers: [this.registry],
  });
  readonly indexMissing = new Gauge({
    name: 'cctv_gateway_index_missing_segments',
    help: 'Indexed segments found in neither the buffer nor the NAS by the last reconciliation',
    registers: [this.registry],
  });
  readonly indexOrphans = new Gauge({
    name: 'cctv_gateway_index_orphan_files',
    help: 'Media files without an index row found by the last reconciliation, by where',
    labelNames: ['where'],
    registers: [this.registry],
  });
  // ---------------------------------------------------------------------------------------

  // --- Recording retention (src/retention/) ---------------------------------------------
  readonly retentionDeletedSegments = new Counter({
    name: 'cctv_gateway_retention_deleted_segments_total',
    help: 'NAS segments deleted by retention, by reason (age, watermark)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly retentionDeletedBytes = new Counter({
    name: 'cctv_gateway_retention_deleted_bytes_total',
    help: 'Bytes of NAS segments deleted by retention, by reason (age, watermark)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly retentionBlocked = new Counter({
    name: 'cctv_gateway_retention_blocked_total',
    help: 'Sweeps that could not reach the NAS free-space mark because all footage left is protected by events',
    registers: [this.registry],
  });
  readonly nasFreeBytes = new Gauge({
    name: 'cctv_gateway_nas_free_bytes',
    help: 'Free bytes on the NAS filesystem, as seen by the last retention sweep',
    registers: [this.registry],
  });
  readonly retentionSkipped = new Counter({
    name: 'cctv_gateway_retention_skipped_total',
    help: 'Retention rounds skipped because another gateway on the same database was sweeping',
    registers: [this.registry],
  });
  // ---------------------------------------------------------------------------------------

  // --- Several gateways (src/cluster/) ---------------------------------------------------
  readonly peerReads = new Counter({
    name: 'cctv_gateway_peer_reads_total',
    help: "Reads forwarded to the peer gateway whose buffer holds the file, by result (served, not_found, refused: the peer's 4xx relayed, unavailable: answered 503 here)",
    labelNames: ['result'],
    registers: [this.registry],
  });
  // ---------------------------------------------------------------------------------------

  // --- H.264 renditions (src/rendition/) ------------------------------------------------
  readonly renditions = new Counter({
    name: 'cctv_gateway_renditions_total',
    help: 'Rendition requests, by result (transcoded, cache_hit, failed, busy)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly transcodeSeconds = new Histogram({
    name: 'cctv_gateway_transcode_seconds',
    help: 'Time for ffmpeg to make one H.264 rendition of a segment, slot wait excluded',
    buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    registers: [this.registry],
  });
  // ---------------------------------------------------------------------------------------

  // --- Low-latency live feeds from the nodes ----------------------------------------------
  readonly liveFeeds = new Gauge({
    name: 'cctv_gateway_live_feeds',
    help: 'Low-latency live feeds being received (one per watched camera)',
    registers: [this.registry],
  });
  readonly liveFeedEnds = new Counter({
    name: 'cctv_gateway_live_feed_ends_total',
    help: 'Low-latency live feeds ended, by reason (idle, replaced, closed, bad_stream, stopped)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly liveParts = new Counter({
    name: 'cctv_gateway_live_parts_total',
    help: 'LL-HLS parts received from the nodes',
    registers: [this.registry],
  });
  readonly liveFeedRefusals = new Counter({
    name: 'cctv_gateway_live_feed_refusals_total',
    help: 'Live feed uploads refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  // --- Access: grants for reads, camera ownership for uploads ----------------------------
  readonly grantedReads = new Counter({
    name: 'cctv_gateway_granted_reads_total',
    help: 'Footage reads (playlists, segments, renditions, snapshots) whose grant was valid',
    registers: [this.registry],
  });
  readonly grantRefusals = new Counter({
    name: 'cctv_gateway_grant_refusals_total',
    help: 'Footage reads refused for their grant, by reason (grant_required, bad_grant, grant_expired, unknown_key, wrong_camera, wrong_scope, outside_grant)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly foreignUploads = new Counter({
    name: 'cctv_gateway_foreign_uploads_total',
    help: 'Uploads refused because the authenticated node does not own the camera, by kind (segment, snapshot, live)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  // ---------------------------------------------------------------------------------------

  constructor() {
    for (const reason of REJECT_REASONS) this.rejected.inc({ reason }, 0);
    for (const reason of SNAPSHOT_REJECT_REASONS) this.snapshotsRejected.inc({ reason }, 0);
    for (const kind of ['media', 'init']) this.ingested.inc({ kind }, 0);
    for (const reason of NAS_FAILURE_REASONS) this.nasFailures.inc({ reason }, 0);
    this.nasUp.set(1);
    for (const reason of RETENTION_REASONS) {
      this.retentionDeletedSegments.inc({ reason }, 0);
      this.retentionDeletedBytes.inc({ reason }, 0);
    }
    for (const result of RENDITION_RESULTS) this.renditions.inc({ result }, 0);
    for (const result of PEER_READ_RESULTS) this.peerReads.inc({ result }, 0);
    for (const reason of GRANT_REFUSALS) this.grantRefusals.inc({ reason }, 0);
    registerDefaultMetrics(this.registry, 'cctv_gateway_');
  }

  /** Reads the buffer's free space when Prometheus scrapes. */
  watchBufferDisk(read: () => Promise<{ freeBytes: number } | null>): void {
    this.bufferDisk = read;
  }

  observe(sources: { bufferBytes: () => number; oldestAgeS: () => number }): void {
    this.sources = sources;
  }

  nasFailure(reason: NasFailureReason): void {
    this.nasFailures.inc({ reason });
  }

  reject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  rejectSnapshot(reason: SnapshotRejectReason): void {
    this.snapshotsRejected.inc({ reason });
  }
}
