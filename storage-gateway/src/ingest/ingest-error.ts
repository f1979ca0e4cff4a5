/** Why an upload was refused; each reason is a label of `cctv_gateway_segments_rejected_total`. */
export const REJECT_REASONS = [
  'bad_camera',
  'bad_name',
  'bad_headers',
  'sha256_mismatch',
  'too_large',
  'conflict',
  'aborted',
  'storage_failed',
  'unauthorized',
  'forbidden',
  'not_owner',
  'buffer_full',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The HTTP answer to each refusal; snapshot uploads share them (`snapshots/snapshot-error.ts`). */
export const REJECT_STATUS: Record<RejectReason, number> = {
  bad_camera: 400,
  bad_name: 400,
  bad_headers: 400,
  sha256_mismatch: 422,
  too_large: 413,
  conflict: 409,
  aborted: 400,
  storage_failed: 503,
  unauthorized: 401,
  forbidden: 403,
  not_owner: 403,
  buffer_full: 503,
};

/** A refused upload: `code` is the reject reason, `statusCode` the HTTP answer. */
export class IngestError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: RejectReason,
    message: string,
    /** Sent as `Retry-After` (seconds): when the buffer is full, when to come back. */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'IngestError';
    this.statusCode = REJECT_STATUS[code];
  }
}
