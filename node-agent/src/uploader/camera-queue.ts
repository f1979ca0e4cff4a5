/**
 * One camera's upload queue: finished segments go up strictly in recording order, one at a
 * time; the init file of a run goes first under a content-addressed name. Network errors and
 * most statuses are retried with capped backoff; only a refusal of the content itself (400,
 * 411, 413, 415, 422) is logged, counted and skipped. Uploaded segments stay in the spool until
 * the spool quota needs their room (spool/quota.ts decides, spool/cleanup.ts deletes).
 */
import { basename } from 'node:path';
import { SEGMENT_HEADERS, segmentPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, type Sleep } from '../process/backoff.ts';
import { removeSegment } from '../spool/cleanup.ts';
import { cameraDir } from '../spool/scan.ts';
import { compareSegmentNames, type FinishedSegment, initName, parseSegmentName } from '../spool/segment.ts';
import { describeError, type PutFile, type PutResult, ReadBuffer, readForUpload } from './put-file.ts';
import { saveUploadState, type UploadState } from './upload-state.ts';

export interface UploadHooks {
  onUploaded?: (segment: FinishedSegment) => void;
  onFailed?: (segment: FinishedSegment, reason: string, willRetry: boolean) => void;
}

export interface CameraQueueOptions extends UploadHooks {
  cameraId: string;
  spoolDir: string;
  gatewayUrl: string;
  nodeId: string;
  state: UploadState;
  put: PutFile;
  sleep: Sleep;
  backoff: BackoffPolicy;
  logger: Logger;
}

type Outcome = 'done' | 'skipped' | 'aborted';

class PermanentError extends Error {}

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

  constructor(private readonly opts: CameraQueueOptions) {
    this.dir = cameraDir(opts.spoolDir, opts.cameraId);
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
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      // A gateway whose buffer is full says when to come back (503 + Retry-After).
      let retryAfterMs = 0;
      try {
        const result = await this.send(segment);
        retryAfterMs = result.retryAfterMs ?? 0;
        if (result.status >= 200 && result.status < 300) {
          log.debug({ segment: segment.name, status: result.status }, 'segment uploaded');
          this.opts.onUploaded?.(segment);
          return 'done';
        }
        reason = describeError(result);
        if (!isRetryable(result.status)) throw new PermanentError(reason);
      } catch (err) {
        if (err instanceof PermanentError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
          log.error(
            { segment: segment.name, reason: (err as Error).message },
            'segment refused, skipping it',
          );
          this.opts.onFailed?.(segment, (err as Error).message, false);
          return 'skipped';
        }
        reason = (err as Error).message;
        // An init upload refused with Retry-After (the gateway buffer is full) says so too.
        retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs ?? 0;
      }
      const delay = Math.max(backoffDelay(this.opts.backoff, attempt), retryAfterMs);
      log.warn(
        { segment: segment.name, reason, attempt: attempt + 1, retryInMs: delay },
        'upload failed, will retry',
      );
      this.opts.onFailed?.(segment, reason, true);
      if (!(await this.opts.sleep(delay, this.abort.signal))) return 'aborted';
    }
  }

  private async send(segment: FinishedSegment): Promise<PutResult> {
    const init = await this.ensureInit(segment.initPath);
    // One upload at a time per camera: the buffer is free again once put() has answered.
    const file = await readForUpload(segment.path, this.readBuffer);
    return this.opts.put(this.url(segment.name), file, {
      [SEGMENT_HEADERS.sha256]: file.sha256,
      [SEGMENT_HEADERS.node]: this.opts.nodeId,
      [SEGMENT_HEADERS.start]: segment.startAt.toISOString(),
      [SEGMENT_HEADERS.durationMs]: String(segment.durationMs),
      [SEGMENT_HEADERS.init]: init,
      [SEGMENT_HEADERS.codec]: segment.codec,
    });
  }

  /** Uploads a run's init file once, named by its content; returns the gateway name. */
  private async ensureInit(initPath: string): Promise<string> {
    const local = basename(initPath);
    const known = this.opts.state.inits[local];
    if (known) return known;
    const file = await readForUpload(initPath);
    const name = `init-${file.sha256.slice(0, 16)}.mp4`;
    const result = await this.opts.put(this.url(name), file, {
      [SEGMENT_HEADERS.sha256]: file.sha256,
      [SEGMENT_HEADERS.node]: this.opts.nodeId,
    });
    if (result.status < 200 || result.status >= 300) {
      const reason = `init ${name}: ${describeError(result)}`;
      if (isRetryable(result.status))
        throw Object.assign(new Error(reason), { retryAfterMs: result.retryAfterMs ?? 0 });
      throw new PermanentError(reason);
    }
    this.opts.logger.info({ init: name, local }, 'init file uploaded');
    this.opts.state.inits[local] = name;
    await saveUploadState(this.dir, this.opts.state);
    return name;
  }

  private url(name: string): URL {
    return new URL(segmentPath(this.opts.cameraId, name), this.opts.gatewayUrl);
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

/** Statuses that refuse the content itself; anything else (auth, overload, outage) is retried. */
const PERMANENT = new Set([400, 411, 413, 415, 422]);

function isRetryable(status: number): boolean {
  return !PERMANENT.has(status);
}
