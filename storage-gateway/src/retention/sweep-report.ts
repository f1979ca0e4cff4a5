/** What the retention sweeper reports upward (metrics, logs, tests). */
export const RETENTION_REASONS = ['age', 'watermark'] as const;
export type RetentionReason = (typeof RETENTION_REASONS)[number];

export interface DeletedSegment {
  camera: string;
  name: string;
  bytes: number;
  reason: RetentionReason;
}

export interface NasUsage {
  totalBytes: number;
  freeBytes: number;
}

/** The watermark could not be reached: everything left on the NAS is protected by events. */
export interface BlockedInfo extends NasUsage {
  /** Free bytes the watermark asks for (GATEWAY_NAS_MIN_FREE_PERCENT of the total). */
  targetFreeBytes: number;
  /** What is still missing to reach it. */
  missingBytes: number;
}

export interface SweepSummary {
  startedAt: Date;
  finishedAt: Date;
  /** False when the NAS or the database failed; the round stopped there and nothing was lost. */
  ok: boolean;
  /** True when stop() (or the loss of the round's lock) cut the round short between two segments. */
  aborted: boolean;
  /** True when another gateway held the round's lock: nothing was looked at. */
  skipped: boolean;
  deleted: Record<RetentionReason, { segments: number; bytes: number }>;
  initsDeleted: number;
  /** Last NAS usage seen this round; null when the NAS could not be asked. */
  usage: NasUsage | null;
  blocked: BlockedInfo | null;
  error?: unknown;
}

/** A summary with nothing done yet. */
export function emptySummary(now: Date): SweepSummary {
  return {
    startedAt: now,
    finishedAt: now,
    ok: true,
    aborted: false,
    skipped: false,
    deleted: { age: { segments: 0, bytes: 0 }, watermark: { segments: 0, bytes: 0 } },
    initsDeleted: 0,
    usage: null,
    blocked: null,
  };
}
