import { GatewayError } from '../gateway-error.ts';
import { REJECT_REASONS, REJECT_STATUS } from '../ingest/ingest-error.ts';

/**
 * Why a snapshot upload was refused; each is a label of `cctv_gateway_snapshots_rejected_total`.
 * The segment refusals with the same codes and statuses on purpose (an agent handles a refused
 * snapshot like a refused segment), plus the two only a picture can earn.
 */
export const SNAPSHOT_REJECT_REASONS = [...REJECT_REASONS, 'bad_content_type', 'not_jpeg'] as const;
export type SnapshotRejectReason = (typeof SNAPSHOT_REJECT_REASONS)[number];

const STATUS: Record<SnapshotRejectReason, number> = {
  ...REJECT_STATUS,
  bad_content_type: 415,
  not_jpeg: 415,
};

/** A refused snapshot upload: `code` is the reject reason, `statusCode` the HTTP answer. */
export class SnapshotError extends GatewayError<SnapshotRejectReason> {
  constructor(code: SnapshotRejectReason, message: string) {
    super(code, STATUS[code], message);
  }
}
