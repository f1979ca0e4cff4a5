import type { Logger } from 'pino';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import { type BacklogItem, BacklogQueue } from './backlog-queue.ts';
import { type NasLocationIndex, releaseBufferedCopy } from './buffer-release.ts';
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
  /** `remove`: a copy made for a segment whose row is gone meanwhile (see `move`). */
  nas: Pick<NasClient, 'copy'> & Partial<Pick<NasClient, 'remove'>>;
  files: SegmentFiles;
  lock: KeyedLock;
  logger: Logger;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Drain at most this many bytes per second (0: as fast as the NAS takes them). */
  drainBytesPerS: number;
  /** Moves run at once while the NAS is healthy (1 while it fails or the rate is capped). */
  parallel: number;
  /** Waits between retries; injected so tests need not sleep for real. */
  delay?: Delay;
  now?: () => number;
  /**
   * The segment index: the mover records `nas` there before a buffered copy goes
   * (`buffer-release.ts`). Without it, `onMoved` must record it (awaited the same way).
   */
  index?: NasLocationIndex;
  /**
   * The NAS copy is durable, verified and indexed. Awaited before the buffered copy is removed:
   * if it throws, the move is retried and nothing is lost.
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

const keyOf = (item: { camera: string; name: string }) => `${item.camera}/${item.name}`;

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
 * Drains the buffer to the NAS in recording-time order, a few segments at once, through the NAS
 * worker process. A failing NAS (missing mount, read-only, full, erroring, hung) keeps segments
 * in the buffer and is retried with capped exponential backoff; the buffered copy is removed
 * only after the NAS copy reads back with the acknowledged sha256 and the index says `nas`.
 */
export class NasMover {
  private readonly queue = new BacklogQueue();
  /** Taken off the queue and being moved. */
  private readonly inFlight = new Map<string, BacklogItem>();
  private readonly stopSignal = new AbortController();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private failing: NasFailureReason | null = null;
  private readonly now: () => number;
  /**
   * The smallest backlog (bytes) since the NAS last failed: what the buffer holds beyond it was
   * acknowledged while the NAS took writes, faster than the mover moved it (`lagBytes`).
   */
  private floorBytes = 0;

  constructor(private readonly opts: NasMoverOptions) {
    this.now = opts.now ?? Date.now;
  }

  get backlog(): number {
    return this.queue.size + this.inFlight.size;
  }

  get backlogBytes(): number {
    let bytes = this.queue.bytes;
    for (const item of this.inFlight.values()) bytes += item.bytes;
    return bytes;
  }

  /** Seconds since the oldest buffered segment was acknowledged (0 with an empty backlog). */
  oldestAgeS(): number {
    let oldest = this.queue.oldestArrivalMs();
    for (const item of this.inFlight.values())
      if (oldest === null || item.arrivedMs < oldest) oldest = item.arrivedMs;
    return oldest === null ? 0 : Math.max(0, (this.now() - oldest) / 1000);
  }

  /**
   * Bytes acknowledged while the NAS was healthy and not yet moved, beyond the backlog the mover
   * was already working through (what an outage left, or what was buffered at start): grows only
   * when ingest outpaces the mover. 0 while the NAS fails, when the buffer is there to absorb.
   */
  get lagBytes(): number {
    if (this.failing) return 0;
    return Math.max(0, this.backlogBytes - this.floorBytes);
  }

  /** The backlog as it is now is work the mover already has, not lag (called at start). */
  resetLag(): void {
    this.floorBytes = this.backlogBytes;
  }

  private noteBacklog(): void {
    const bytes = this.backlogBytes;
    if (this.failing || bytes < this.floorBytes) this.floorBytes = bytes;
    this.opts.onBacklog?.(this.backlog, bytes);
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
    if (this.stopSignal.signal.aborted || this.inFlight.has(keyOf(item)) || !this.queue.push(item)) return;
    this.noteBacklog();
    this.wake?.();
  }

  /** Resolves once the move in flight, if any, has finished; queued files stay buffered. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.wake?.();
    await this.loop;
  }

  /**
   * Keeps up to `parallel` moves in flight, starting the next one as soon as any finishes (a
   * move's fsyncs and read-back overlap the others'), in recording-time order. One at a time
   * while the NAS is failing (a probe) or when the drain rate is capped. A failure stops new
   * starts; once the moves in flight are done, the mover waits (capped exponential backoff).
   */
  private async run(): Promise<void> {
    const { logger, retryInitialMs, retryMaxMs, drainBytesPerS } = this.opts;
    const delay = this.opts.delay ?? realDelay;
    const signal = this.stopSignal.signal;
    const running = new Set<Promise<void>>();
    const settled: { item: BacklogItem; err: unknown; ok: boolean; started: number }[] = [];
    let attempt = 0;
    let failure: { item: BacklogItem; err: unknown } | null = null;
    while (!signal.aborted) {
      const width = this.failing || drainBytesPerS > 0 ? 1 : this.opts.parallel;
      while (!failure && running.size < width && this.queue.size > 0) {
        const item = this.queue.shift() as BacklogItem;
        const key = keyOf(item);
        this.inFlight.set(key, item);
        const started = this.now();
        const done: Promise<void> = this.opts.lock
          .run(key, () => this.move(item))
          .then(
            () => {
              settled.push({ item, err: null, ok: true, started });
            },
            (err: unknown) => {
              settled.push({ item, err, ok: false, started });
            },
          )
          .finally(() => running.delete(done));
        running.add(done);
      }
      if (running.size === 0 && settled.length === 0) {
        if (failure) {
          const { item, err } = failure;
          failure = null;
          const reason = nasReason(err);
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
                backlog: this.backlog,
              },
              'NAS move failed; segment stays in the buffer',
            );
          this.failing = reason;
          this.noteBacklog();
          await delay(waitMs, signal);
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      if (settled.length === 0) {
        // A move finishing, or a new segment to fill a free slot with.
        const woken = new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        await Promise.race([...running, woken]);
        this.wake = null;
      }
      for (const result of settled.splice(0)) {
        const { item } = result;
        this.inFlight.delete(keyOf(item));
        if (result.ok) {
          if (this.failing) logger.info({ backlog: this.backlog }, 'NAS writes succeed again');
          this.failing = null;
          attempt = 0;
          if (drainBytesPerS > 0) {
            const pauseMs = (item.bytes / drainBytesPerS) * 1000 - (this.now() - result.started);
            if (pauseMs >= 1) await delay(pauseMs, signal);
          }
          continue;
        }
        if (nasReason(result.err) === 'buffer_corrupt') {
          // Retrying cannot help and would hold up everything behind it.
          this.opts.onDropped?.(item, 'buffer_corrupt', result.err);
          logger.error(
            { err: result.err, cameraId: item.camera, segment: item.name },
            'buffered segment is damaged; left in the buffer, not moved',
          );
          continue;
        }
        this.queue.push(item); // back in its place in time order
        failure ??= { item, err: result.err };
      }
      this.noteBacklog();
    }
    await Promise.all(running);
  }

  private async move(item: BacklogItem): Promise<void> {
    const src = this.opts.files.bufferPath(item.camera, item.name);
    const started = this.now();
    const copied = await this.opts.nas.copy(src, item.camera, item.name, item.sha256);
    // Already moved (or removed) since it was queued: nothing left to do.
    if (copied.status === 'source_missing') return;
    const ms = this.now() - started;
    const { nas } = this.opts;
    await releaseBufferedCopy(
      src,
      item,
      this.opts.index,
      () =>
        this.opts.onMoved?.({
          camera: item.camera,
          name: item.name,
          sha256: item.sha256,
          bytes: copied.bytes,
          ms,
        }),
      nas.remove &&
        (async () => {
          await nas.remove?.(item.camera, item.name);
          this.opts.logger.info(
            { cameraId: item.camera, segment: item.name },
            'segment deleted by retention while a copy of it waited here: both copies removed',
          );
        }),
    );
  }
}
