/** Why a snapshot upload was refused; each is a label of `cctv_gateway_snapshots_rejected_total`. */
export const SNAPSHOT_REJECT_REASONS = [
  'bad_camera',
  'bad_name',
  'bad_headers',
  'bad_content_type',
  'not_jpeg',
  'sha256_mismatch',
  'too_large',
  'conflict',
  'aborted',
  'storage_failed',
] as const;
export type SnapshotRejectReason = (typeof SNAPSHOT_REJECT_REASONS)[number];

// The codes and statuses shared with segment uploads are the same on purpose: an agent
// handles a refused snapshot like a refused segment.
const STATUS: Record<SnapshotRejectReason, number> = {
  bad_camera: 400,
  bad_name: 400,
  bad_headers: 400,
  bad_content_type: 415,
  not_jpeg: 415,
  sha256_mismatch: 422,
  too_large: 413,
  conflict: 409,
  aborted: 400,
  storage_failed: 503,
};

/** A refused snapshot upload: `code` is the reject reason, `statusCode` the HTTP answer. */
export class SnapshotError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: SnapshotRejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotError';
    this.statusCode = STATUS[code];
  }
}
