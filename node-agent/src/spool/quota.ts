/**
 * Keeps the spool within its byte quota (and the disk above its free-space reserve). Segments
 * already at the gateway go first, oldest first, down to 90 % of the limit. Only when nothing
 * uploaded is left is an un-uploaded segment dropped — oldest first, across cameras, never the
 * one being sent — and each drop is counted, logged and reported.
 */
import type { Logger } from 'pino';
import type { FinishedSegment } from './segment.ts';

/** What the quota needs of one camera's upload queue. */
export interface QuotaCamera {
  readonly cameraId: string;
  uploadedOnDisk(): readonly FinishedSegment[];
  droppable(): FinishedSegment[];
  evictUploaded(segment: FinishedSegment): Promise<void>;
  dropPending(segment: FinishedSegment): Promise<boolean>;
}

export interface SpoolQuotaOptions {
  quotaBytes: number;
  /** Free space the spool leaves on its file system for everything else. */
  minFreeBytes: number;
  cameras: () => QuotaCamera[];
  usedBytes: () => Promise<number>;
  freeBytes: () => Promise<number>;
  logger: Logger;
  onDropped?: (segment: FinishedSegment) => void;
  /** Fraction of the limit that evicting uploaded segments brings the spool down to. */
  lowWater?: number;
}

export interface QuotaResult {
  usedBytes: number;
  limitBytes: number;
  evicted: number;
  dropped: number;
}

const byAge = (a: FinishedSegment, b: FinishedSegment) => a.startAt.getTime() - b.startAt.getTime();

export class SpoolQuota {
  private running: Promise<QuotaResult> | null = null;
  private again = false;

  constructor(private readonly opts: SpoolQuotaOptions) {}

  /** Runs one enforcement; calls made while one runs are folded into one more run after it. */
  enforce(): Promise<QuotaResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let result: QuotaResult;
      do {
        this.again = false;
        result = await this.enforceOnce();
      } while (this.again);
      return result;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async enforceOnce(): Promise<QuotaResult> {
    const o = this.opts;
    let used = await o.usedBytes();
    const free = await o.freeBytes();
    // The disk may fill before the quota does: then the reserve sets the limit.
    const limit = Math.max(0, Math.min(o.quotaBytes, used + free - o.minFreeBytes));
    const result: QuotaResult = { usedBytes: used, limitBytes: limit, evicted: 0, dropped: 0 };
    if (used <= limit) return result;

    const target = Math.floor(limit * (o.lowWater ?? 0.9));
    const uploaded = o
      .cameras()
      .flatMap((c) => c.uploadedOnDisk().map((segment) => ({ camera: c, segment })))
      .sort((a, b) => byAge(a.segment, b.segment));
    for (const { camera, segment } of uploaded) {
      if (used <= target) break;
      await camera.evictUploaded(segment);
      used -= segment.bytes;
      result.evicted++;
    }
    if (used > limit) {
      const pending = o
        .cameras()
        .flatMap((c) => c.droppable().map((segment) => ({ camera: c, segment })))
        .sort((a, b) => byAge(a.segment, b.segment));
      for (const { camera, segment } of pending) {
        if (used <= limit) break;
        if (!(await camera.dropPending(segment))) continue;
        used -= segment.bytes;
        result.dropped++;
        o.logger.error(
          {
            cameraId: camera.cameraId,
            segment: segment.name,
            startAt: segment.startAt.toISOString(),
            bytes: segment.bytes,
            usedBytes: used,
            limitBytes: limit,
          },
          'spool full: dropped a segment that was never uploaded',
        );
        o.onDropped?.(segment);
      }
    }
    if (result.evicted > 0)
      o.logger.debug(
        { evicted: result.evicted, usedBytes: used, limitBytes: limit },
        'spool quota: evicted uploaded segments',
      );
    result.usedBytes = used;
    return result;
  }
}
