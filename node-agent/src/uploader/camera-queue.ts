/**
 * One camera's upload queue: finished segments go up strictly in recording order, one at a
 * time; the init file of a run goes first under a content-addressed name. 5xx, 408, 429 and
 * network errors are retried with capped backoff; other 4xx are logged, counted and skipped.
 */
import { unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SEGMENT_HEADERS, segmentPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, type Sleep } from '../process/backoff.ts';
import { cameraDir } from '../spool/scan.ts';
import { compareSegmentNames, type FinishedSegment, initName, parseSegmentName } from '../spool/segment.ts';
import { describeError, type PutFile, type PutResult, sha256File } from './put-file.ts';
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
  keepUploaded: number;
  logger: Logger;
}

type Outcome = 'done' | 'skipped' | 'aborted';

class PermanentError extends Error {}

export class CameraQueue {
  private readonly pending: FinishedSegment[] = [];
  private readonly queued = new Set<string>();
  private readonly uploaded: FinishedSegment[] = [];
  private readonly dir: string;
  private wake: (() => void) | null = null;
  private worker: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly opts: CameraQueueOptions) {
    this.dir = cameraDir(opts.spoolDir, opts.cameraId);
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

  backlog(): { files: number; bytes: number } {
    return { files: this.pending.length, bytes: this.pending.reduce((a, s) => a + s.bytes, 0) };
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
    await this.prune();
    while (!this.abort.signal.aborted) {
      const segment = this.pending[0];
      if (!segment) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const outcome = await this.uploadWithRetry(segment);
      if (outcome === 'aborted') break;
      this.pending.shift();
      this.queued.delete(segment.name);
      this.opts.state.lastUploaded = segment.name;
      await saveUploadState(this.dir, this.opts.state).catch((err) =>
        this.opts.logger.error({ err }, 'uploader: saving upload state failed'),
      );
      if (outcome === 'done') {
        this.uploaded.push(segment);
        await this.prune();
      }
    }
  }

  private async uploadWithRetry(segment: FinishedSegment): Promise<Outcome> {
    const log = this.opts.logger;
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      try {
        const result = await this.send(segment);
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
      }
      const delay = backoffDelay(this.opts.backoff, attempt);
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
    const sha256 = await sha256File(segment.path);
    return this.opts.put(this.url(segment.name), segment.path, {
      [SEGMENT_HEADERS.sha256]: sha256,
      [SEGMENT_HEADERS.node]: this.opts.nodeId,
      [SEGMENT_HEADERS.start]: segment.startAt.toISOString(),
      [SEGMENT_HEADERS.durationMs]: String(segment.durationMs),
      [SEGMENT_HEADERS.init]: init,
      [SEGMENT_HEADERS.codec]: 'hevc',
    });
  }

  /** Uploads a run's init file once, named by its content; returns the gateway name. */
  private async ensureInit(initPath: string): Promise<string> {
    const local = basename(initPath);
    const known = this.opts.state.inits[local];
    if (known) return known;
    const sha256 = await sha256File(initPath);
    const name = `init-${sha256.slice(0, 16)}.mp4`;
    const result = await this.opts.put(this.url(name), initPath, {
      [SEGMENT_HEADERS.sha256]: sha256,
      [SEGMENT_HEADERS.node]: this.opts.nodeId,
    });
    if (result.status < 200 || result.status >= 300) {
      const reason = `init ${name}: ${describeError(result)}`;
      if (isRetryable(result.status)) throw new Error(reason);
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

  /**
   * Keeps only the newest `keepUploaded` uploaded segments. A run whose last segment goes is
   * over (newer runs exist), so its playlist and init file go too.
   */
  private async prune(): Promise<void> {
    while (this.uploaded.length > this.opts.keepUploaded) {
      const old = this.uploaded.shift();
      if (!old) break;
      await unlink(old.path).catch(() => {});
      const runId = parseSegmentName(old.name)?.runId;
      if (!runId) continue;
      const same = (s: FinishedSegment) => parseSegmentName(s.name)?.runId === runId;
      if (this.uploaded.some(same) || this.pending.some(same)) continue;
      await unlink(join(this.dir, `${runId}.m3u8`)).catch(() => {});
      await unlink(join(this.dir, initName(runId))).catch(() => {});
      delete this.opts.state.inits[initName(runId)];
    }
  }
}

function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500 || status < 200;
}
