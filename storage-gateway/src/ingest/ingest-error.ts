import { GatewayError } from '../gateway-error.ts';

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
  'nas_behind',
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
  nas_behind: 503,
};

/** A refused upload: `code` is the reject reason; `retryAfterS` comes with `buffer_full` and `nas_behind`. */
export class IngestError extends GatewayError<RejectReason> {
  constructor(code: RejectReason, message: string, retryAfterS?: number) {
    super(code, REJECT_STATUS[code], message, retryAfterS);
  }
}
