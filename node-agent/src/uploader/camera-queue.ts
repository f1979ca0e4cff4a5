/**
 * One camera's upload queue: finished segments go up strictly in recording order, one at a
 * time; the init file of a run goes first to each gateway (run-inits.ts). A gateway that
 * refuses service or cannot be reached is left for the next one in the shared GatewayPool at
 * once; other failures, and all gateways down, are retried with capped backoff; only a refusal
 * of the content itself (400, 411, 413, 415, 422) is logged, counted and skipped. Uploaded
 * segments stay in the spool until the spool quota needs their room (spool/quota.ts decides,
 * spool/cleanup.ts deletes).
 */
import { SEGMENT_HEADERS, segmentPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, type Sleep } from '../process/backoff.ts';
import { removeSegment } from '../spool/cleanup.ts';
import { cameraDir } from '../spool/scan.ts';
import { compareSegmentNames, type FinishedSegment, initName, parseSegmentName } from '../spool/segment.ts';
import { type GatewayPool, GatewayUnreachable, isGatewayRefusal, putToGateway } from './gateway-pool.ts';
import { describeError, type PutFile, type PutResult, ReadBuffer, readForUpload } from './put-file.ts';
import { RunInits } from './run-inits.ts';
import { saveUploadState, type UploadState } from './upload-state.ts';

export interface UploadHooks {
  onUploaded?: (segment: FinishedSegment) => void;
  onFailed?: (segment: FinishedSegment, reason: string, willRetry: boolean) => void;
}

export interface CameraQueueOptions extends UploadHooks {
  cameraId: string;
  spoolDir: string;
  /** The gateways, shared with the other queues and the snapshot store. */
  gateways: GatewayPool;
  nodeId: string;
  state: UploadState;
  put: PutFile;
  sleep: Sleep;
  backoff: BackoffPolicy;
  logger: Logger;
}

type Outcome = 'done' | 'skipped' | 'aborted';

/**
 * One attempt: stored; refused for its content (skipped); or to try again, at once elsewhere
 * when the gateway is out of service (`outage`), else after a backoff. `answered`: the gateway
 * said something, so it is up.
 */
type Attempt =
  | { kind: 'done' }
  | { kind: 'refused'; reason: string; answered: boolean }
  | { kind: 'retry'; reason: string; outage: boolean; answered: boolean; retryAfterMs: number };

export class CameraQueue {
  private readonly pending: FinishedSegment[] = [];
  private readonly queued = new Set<string>();
  private readonly uploaded: FinishedSegment[] = [];
  private readonly dir: string;
  private inFlight: string | null = null;
  private readonly readBuffer = new ReadBuffer();
  private droppedCount = 0;
  private wake: (() => void) | null = null;
  private worker: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly inits: RunInits;

  constructor(private readonly opts: CameraQueueOptions) {
    this.dir = cameraDir(opts.spoolDir, opts.cameraId);
    this.inits = new RunInits({
      cameraId: opts.cameraId,
      dir: this.dir,
      nodeId: opts.nodeId,
      state: opts.state,
      gateways: opts.gateways.urls,
      put: opts.put,
      logger: opts.logger,
    });
  }

  get cameraId(): string {
    return this.opts.cameraId;
  }

  /** Segments already uploaded in earlier runs of the agent, still in the spool (oldest first). */
  seedUploaded(segments: FinishedSegment[]): void {
    this.uploaded.push(...segments);
  }

  isDone(name: string): boolean {
    const last = this.opts.state.lastUploaded;
    return last !== null && compareSegmentNames(name, last) <= 0;
  }

  enqueue(segment: FinishedSegment): void {
    if (this.isDone(segment.name) || this.queued.has(segment.name)) return;
    this.queued.add(segment.name);
    const last = this.pending.at(-1);
    this.pending.push(segment);
    if (last && compareSegmentNames(last.name, segment.name) > 0)
      this.pending.sort((a, b) => compareSegmentNames(a.name, b.name));
    this.wake?.();
  }

  backlog(): { files: number; bytes: number; oldestAt: Date | null } {
    return {
      files: this.pending.length,
      bytes: this.pending.reduce((a, s) => a + s.bytes, 0),
      oldestAt: this.pending[0]?.startAt ?? null,
    };
  }

  /** Bytes of the segments this queue knows on disk (uploaded and waiting). */
  diskBytes(): number {
    let total = 0;
    for (const s of this.uploaded) total += s.bytes;
    for (const s of this.pending) total += s.bytes;
    return total;
  }

  /** Un-uploaded segments dropped at the spool quota since the agent started. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Uploaded segments still in the spool, oldest first. */
  uploadedOnDisk(): readonly FinishedSegment[] {
    return this.uploaded;
  }

  /** Segments waiting for upload that may be dropped (not the one being sent), oldest first. */
  droppable(): FinishedSegment[] {
    return this.pending.filter((s) => s.name !== this.inFlight);
  }

  /** Deletes an uploaded segment from the spool to make room. */
  async evictUploaded(segment: FinishedSegment): Promise<void> {
    const i = this.uploaded.indexOf(segment);
    if (i < 0) return;
    this.uploaded.splice(i, 1);
    await this.removeFromSpool(segment);
  }

  /** Drops a segment that was never uploaded: the last resort when the spool is full. */
  async dropPending(segment: FinishedSegment): Promise<boolean> {
    if (segment.name === this.inFlight) return false;
    const i = this.pending.indexOf(segment);
    if (i < 0) return false;
    this.pending.splice(i, 1);
    this.queued.delete(segment.name);
    this.droppedCount++;
    await this.removeFromSpool(segment);
    return true;
  }

  start(): void {
    this.worker ??= this.loop();
  }

  /** Finishes the upload in flight (a retry wait is cut short), then stops. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.worker;
  }

  private async loop(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const segment = this.pending[0];
      if (!segment) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      this.inFlight = segment.name;
      const outcome = await this.uploadWithRetry(segment);
      this.inFlight = null;
      if (outcome === 'aborted') break;
      const at = this.pending.indexOf(segment);
      if (at >= 0) this.pending.splice(at, 1);
      this.queued.delete(segment.name);
      this.opts.state.lastUploaded = segment.name;
      await saveUploadState(this.dir, this.opts.state, { durable: false }).catch((err) =>
        this.opts.logger.error({ err }, 'uploader: saving upload state failed'),
      );
      // A refused segment stays on disk for inspection until the quota needs its room.
      this.uploaded.push(segment);
    }
  }

  private async uploadWithRetry(segment: FinishedSegment): Promise<Outcome> {
    const log = this.opts.logger;
    const pool = this.opts.gateways;
    for (let tries = 1, waits = 0; ; tries++) {
      const gateway = pool.pick();
      const attempt = await this.attempt(segment, gateway);
      if (attempt.kind === 'done') {
        pool.succeeded(gateway);
        log.debug({ segment: segment.name, gateway }, 'segment uploaded');
        this.opts.onUploaded?.(segment);
        return 'done';
      }
      if (attempt.kind === 'refused') {
        if (attempt.answered) pool.succeeded(gateway);
        log.error({ segment: segment.name, reason: attempt.reason }, 'segment refused, skipping it');
        this.opts.onFailed?.(segment, attempt.reason, false);
        return 'skipped';
      }
      const { reason, retryAfterMs } = attempt;
      if (attempt.answered && !attempt.outage) pool.succeeded(gateway);
      // Another gateway believed healthy takes it at once; the backoff is for all of them down.
      const elsewhere = attempt.outage && pool.failed(gateway, reason, retryAfterMs);
      // A gateway whose buffer is full says when to come back (503 + Retry-After).
      const delay = elsewhere ? 0 : Math.max(backoffDelay(this.opts.backoff, waits++), retryAfterMs);
      log.warn(
        { segment: segment.name, gateway, reason, attempt: tries, retryInMs: delay },
        'upload failed, will retry',
      );
      this.opts.onFailed?.(segment, reason, true);
      if (elsewhere) continue;
      if (!(await this.opts.sleep(delay, this.abort.signal))) return 'aborted';
    }
  }

  /** The run's init where `gateway` lacks it, then the segment. */
  private async attempt(segment: FinishedSegment, gateway: string): Promise<Attempt> {
    let result: PutResult;
    let what = '';
    try {
      const init = await this.inits.ensure(segment.initPath, gateway);
      if (init.refusal) {
        result = init.refusal;
        what = `init ${init.name}: `;
      } else result = await this.send(segment, gateway, init.name);
    } catch (err) {
      const reason = (err as Error).message;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { kind: 'refused', reason, answered: false };
      const outage = err instanceof GatewayUnreachable;
      return { kind: 'retry', reason, outage, answered: false, retryAfterMs: 0 };
    }
    if (result.status >= 200 && result.status < 300) return { kind: 'done' };
    const reason = `${what}${describeError(result)}`;
    if (PERMANENT.has(result.status)) return { kind: 'refused', reason, answered: true };
    return {
      kind: 'retry',
      reason,
      outage: isGatewayRefusal(result.status),
      answered: true,
      retryAfterMs: result.retryAfterMs ?? 0,
    };
  }

  private async send(segment: FinishedSegment, gateway: string, init: string): Promise<PutResult> {
    // One upload at a time per camera: the buffer is free again once put() has answered.
    const file = await readForUpload(segment.path, this.readBuffer);
    return putToGateway(
      this.opts.put,
      new URL(segmentPath(this.opts.cameraId, segment.name), gateway),
      file,
      {
        [SEGMENT_HEADERS.sha256]: file.sha256,
        [SEGMENT_HEADERS.node]: this.opts.nodeId,
        [SEGMENT_HEADERS.start]: segment.startAt.toISOString(),
        [SEGMENT_HEADERS.durationMs]: String(segment.durationMs),
        [SEGMENT_HEADERS.init]: init,
        [SEGMENT_HEADERS.codec]: segment.codec,
      },
    );
  }

  /** The spool deletes the segment, and its run once nothing of it is left here; its init name goes with it. */
  private async removeFromSpool(segment: FinishedSegment): Promise<void> {
    const same = (runId: string) => (s: FinishedSegment) => parseSegmentName(s.name)?.runId === runId;
    const removedRun = await removeSegment(
      this.dir,
      segment,
      (runId) => this.uploaded.some(same(runId)) || this.pending.some(same(runId)),
    );
    if (removedRun) delete this.opts.state.inits[initName(removedRun)];
  }
}

/**
 * Statuses that refuse the content itself; anything else is retried: at the next gateway when
 * this one is out of service (gateway-pool.ts), else at the same one (auth, 404, 409).
 */
const PERMANENT = new Set([400, 411, 413, 415, 422]);
