/**
 * Why a NAS operation failed; each is a label of `cctv_gateway_nas_failures_total`. Every one
 * keeps the segment in the buffer and is retried with backoff.
 */
export const NAS_FAILURE_REASONS = [
  'not_mounted', // the NAS path is configured as a mount point and nothing is mounted there
  'unreachable', // the NAS root is missing or not a directory
  'read_only',
  'full',
  'write_error', // any other I/O error
  'verify_failed', // the copy read back with another sha256
  'hung', // no answer within GATEWAY_NAS_TIMEOUT_MS: the writer process was abandoned
  'buffer_corrupt', // the buffered copy no longer hashes to its acknowledged sha256 (local disk fault)
] as const;
export type NasFailureReason = (typeof NAS_FAILURE_REASONS)[number];

export class NasError extends Error {
  constructor(
    readonly reason: NasFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'NasError';
  }
}

/** Maps an errno from a NAS write to a failure reason. */
export function nasReason(err: unknown): NasFailureReason {
  if (err instanceof NasError) return err.reason;
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
      return 'read_only';
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'full';
    default:
      return 'write_error';
  }
}
