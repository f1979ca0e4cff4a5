import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { BufferStore } from '../buffer/buffer-store.ts';
import { fsyncDir, isErrno } from '../files/durable-fs.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import { copyVerified } from './verified-copy.ts';

export interface MoveItem {
  camera: string;
  name: string;
}

export interface MovedSegment extends MoveItem {
  sha256: string;
  bytes: number;
}

export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

export interface NasMoverOptions {
  buffer: BufferStore;
  files: SegmentFiles;
  lock: KeyedLock;
  logger: Logger;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Waits between retries; injected so tests need not sleep for real. */
  delay?: Delay;
  /**
   * The NAS copy is durable and verified. Awaited before the buffered copy is removed: if
   * it throws (index unreachable), the move is retried and nothing is lost.
   */
  onMoved?: (segment: MovedSegment) => Promise<void> | void;
  onFailure?: (item: MoveItem, err: unknown, attempt: number, retryInMs: number) => void;
  onBacklog?: (count: number) => void;
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
 * Drains the buffer to the NAS in arrival order. A failing NAS keeps segments in the buffer
 * and is retried with capped exponential backoff; the buffered copy is removed only after
 * the NAS copy is verified and the index says `nas`.
 */
export class NasMover {
  private readonly queue: MoveItem[] = [];
  private readonly queued = new Set<string>();
  private readonly stopSignal = new AbortController();
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private failing = false;

  constructor(private readonly opts: NasMoverOptions) {}

  get backlog(): number {
    return this.queue.length;
  }

  /** True while the last attempt failed: the NAS is down, full or read-only. */
  get degraded(): boolean {
    return this.failing;
  }

  /** Queues whatever a previous run left in the buffer, then starts draining. */
  async start(): Promise<void> {
    if (this.loop) return;
    for (const file of await this.opts.buffer.scan()) this.enqueue(file);
    this.loop = this.run();
  }

  enqueue(item: MoveItem): void {
    const key = `${item.camera}/${item.name}`;
    if (this.queued.has(key) || this.stopSignal.signal.aborted) return;
    this.queued.add(key);
    this.queue.push({ camera: item.camera, name: item.name });
    this.opts.onBacklog?.(this.queue.length);
    this.wake?.();
  }

  /** Resolves once the move in flight, if any, has finished; queued files stay buffered. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger, retryInitialMs, retryMaxMs } = this.opts;
    const delay = this.opts.delay ?? realDelay;
    let attempt = 0;
    while (!this.stopSignal.signal.aborted) {
      const item = this.queue[0];
      if (!item) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      try {
        await this.opts.lock.run(`${item.camera}/${item.name}`, () => this.move(item));
        this.queue.shift();
        this.queued.delete(`${item.camera}/${item.name}`);
        this.opts.onBacklog?.(this.queue.length);
        if (this.failing) logger.info({ backlog: this.queue.length }, 'NAS writes succeed again');
        this.failing = false;
        attempt = 0;
      } catch (err) {
        attempt += 1;
        const waitMs = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(attempt - 1, 30));
        this.opts.onFailure?.(item, err, attempt, waitMs);
        if (!this.failing || attempt % 10 === 0)
          logger.warn(
            {
              err,
              cameraId: item.camera,
              segment: item.name,
              attempt,
              retryInMs: waitMs,
              backlog: this.queue.length,
            },
            'NAS move failed; segment stays in the buffer',
          );
        this.failing = true;
        await delay(waitMs, this.stopSignal.signal);
      }
    }
  }

  private async move(item: MoveItem): Promise<void> {
    const { files } = this.opts;
    const src = files.bufferPath(item.camera, item.name);
    let copied: Awaited<ReturnType<typeof copyVerified>>;
    try {
      copied = await copyVerified(src, files.nasDir, files.nasPath(item.camera, item.name));
    } catch (err) {
      // Already moved (or removed) since it was queued: nothing left to do.
      if (isErrno(err, 'ENOENT') && (err as NodeJS.ErrnoException).path === src) return;
      throw err;
    }
    await this.opts.onMoved?.({ ...item, ...copied });
    await unlink(src);
    await fsyncDir(dirname(src));
  }
}
