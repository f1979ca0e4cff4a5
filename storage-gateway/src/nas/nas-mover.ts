import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir, isErrno } from '../files/durable-fs.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import { type BacklogItem, BacklogQueue } from './backlog-queue.ts';
import type { NasClient } from './nas-client.ts';
import { type NasFailureReason, nasReason } from './nas-errors.ts';

export type { BacklogItem } from './backlog-queue.ts';

export interface MovedSegment {
  camera: string;
  name: string;
  sha256: string;
  bytes: number;
  /** Time the copy took, fsyncs and read-back included. */
  ms: number;
}

export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

export interface NasMoverOptions {
  nas: Pick<NasClient, 'copy'>;
  files: SegmentFiles;
  lock: KeyedLock;
  logger: Logger;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Drain at most this many bytes per second (0: as fast as the NAS takes them). */
  drainBytesPerS: number;
  /** Waits between retries; injected so tests need not sleep for real. */
  delay?: Delay;
  now?: () => number;
  /**
   * The NAS copy is durable and verified. Awaited before the buffered copy is removed: if
   * it throws (index unreachable), the move is retried and nothing is lost.
   */
  onMoved?: (segment: MovedSegment) => Promise<void> | void;
  onFailure?: (
    item: BacklogItem,
    reason: NasFailureReason,
    err: unknown,
    attempt: number,
    retryInMs: number,
  ) => void;
  /** A segment that can never be moved (its buffered copy is damaged); left in the buffer. */
  onDropped?: (item: BacklogItem, reason: NasFailureReason, err: unknown) => void;
  onBacklog?: (count: number, bytes: number) => void;
}

const realDelay: Delay = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Drains the buffer to the NAS in recording-time order, one segment at a time, through the NAS
 * worker process. A failing NAS (missing mount, read-only, full, erroring, hung) keeps segments
 * in the buffer and is retried with capped exponential backoff; the buffered copy is removed
 * only after the NAS copy reads back with the acknowledged sha256 and the index says `nas`.
 */
export class NasMover {
  private readonly queue = new BacklogQueue();
  private readonly stopSignal = new AbortController();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private failing: NasFailureReason | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: NasMoverOptions) {
    this.now = opts.now ?? Date.now;
  }

  get backlog(): number {
    return this.queue.size;
  }

  get backlogBytes(): number {
    return this.queue.bytes;
  }

  /** Seconds since the oldest buffered segment was acknowledged (0 with an empty backlog). */
  oldestAgeS(): number {
    const oldest = this.queue.oldestArrivalMs();
    return oldest === null ? 0 : Math.max(0, (this.now() - oldest) / 1000);
  }

  /** True while the last attempt failed: the NAS is down, full, read-only or hung. */
  get degraded(): boolean {
    return this.failing !== null;
  }

  /** Why the last attempt failed, while it is failing. */
  get failure(): NasFailureReason | null {
    return this.failing;
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  enqueue(item: BacklogItem): void {
    if (this.stopSignal.signal.aborted || !this.queue.push(item)) return;
    this.opts.onBacklog?.(this.queue.size, this.queue.bytes);
    this.wake?.();
  }

  /** Resolves once the move in flight, if any, has finished; queued files stay buffered. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger, retryInitialMs, retryMaxMs, drainBytesPerS } = this.opts;
    const delay = this.opts.delay ?? realDelay;
    const signal = this.stopSignal.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const item = this.queue.peek();
      if (!item) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const started = this.now();
      try {
        await this.opts.lock.run(`${item.camera}/${item.name}`, () => this.move(item));
        this.queue.shift();
        this.opts.onBacklog?.(this.queue.size, this.queue.bytes);
        if (this.failing) logger.info({ backlog: this.queue.size }, 'NAS writes succeed again');
        this.failing = null;
        attempt = 0;
        if (drainBytesPerS > 0) {
          const pauseMs = (item.bytes / drainBytesPerS) * 1000 - (this.now() - started);
          if (pauseMs >= 1) await delay(pauseMs, signal);
        }
      } catch (err) {
        const reason = nasReason(err);
        if (reason === 'buffer_corrupt') {
          // Retrying cannot help and would hold up everything behind it.
          this.queue.shift();
          this.opts.onBacklog?.(this.queue.size, this.queue.bytes);
          this.opts.onDropped?.(item, reason, err);
          logger.error(
            { err, cameraId: item.camera, segment: item.name },
            'buffered segment is damaged; left in the buffer, not moved',
          );
          continue;
        }
        attempt += 1;
        const waitMs = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(attempt - 1, 30));
        this.opts.onFailure?.(item, reason, err, attempt, waitMs);
        if (this.failing !== reason || attempt % 10 === 0)
          logger.warn(
            {
              err,
              reason,
              cameraId: item.camera,
              segment: item.name,
              attempt,
              retryInMs: waitMs,
              backlog: this.queue.size,
            },
            'NAS move failed; segment stays in the buffer',
          );
        this.failing = reason;
        await delay(waitMs, signal);
      }
    }
  }

  private async move(item: BacklogItem): Promise<void> {
    const src = this.opts.files.bufferPath(item.camera, item.name);
    const started = this.now();
    const copied = await this.opts.nas.copy(src, item.camera, item.name, item.sha256);
    // Already moved (or removed) since it was queued: nothing left to do.
    if (copied.status === 'source_missing') return;
    await this.opts.onMoved?.({
      camera: item.camera,
      name: item.name,
      sha256: item.sha256,
      bytes: copied.bytes,
      ms: this.now() - started,
    });
    try {
      await unlink(src);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    await fsyncDir(dirname(src));
  }
}
