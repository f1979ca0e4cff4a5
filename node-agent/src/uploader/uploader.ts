/**
 * Sends finished segments from the spool to the storage gateway, per camera in recording
 * order, resuming after restarts from each camera's upload state file.
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { type BackoffPolicy, realSleep, type Sleep } from '../process/backoff.ts';
import { cameraDir, scanCameraSpool } from '../spool/scan.ts';
import type { FinishedSegment } from '../spool/segment.ts';
import { CameraQueue, type UploadHooks } from './camera-queue.ts';
import { httpPutFile, type PutFile } from './put-file.ts';
import { loadUploadState } from './upload-state.ts';

export interface UploaderOptions extends UploadHooks {
  gatewayUrl: string;
  nodeId: string;
  spoolDir: string;
  cameraIds: string[];
  logger: Logger;
  put?: PutFile;
  sleep?: Sleep;
  backoff?: BackoffPolicy;
  /** Uploaded segments kept in the spool per camera (newest); older ones are removed. */
  keepUploaded?: number;
}

export class Uploader {
  private readonly queues = new Map<string, CameraQueue>();

  constructor(private readonly opts: UploaderOptions) {}

  /** Loads each camera's state, queues what earlier runs left un-uploaded, starts sending. */
  async start(): Promise<void> {
    for (const cameraId of this.opts.cameraIds) {
      const log = this.opts.logger.child({ cameraId });
      const dir = cameraDir(this.opts.spoolDir, cameraId);
      await mkdir(dir, { recursive: true });
      const state = await loadUploadState(dir);
      const queue = new CameraQueue({
        cameraId,
        spoolDir: this.opts.spoolDir,
        gatewayUrl: this.opts.gatewayUrl,
        nodeId: this.opts.nodeId,
        state,
        put: this.opts.put ?? httpPutFile(),
        sleep: this.opts.sleep ?? realSleep,
        backoff: this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 },
        keepUploaded: this.opts.keepUploaded ?? 100,
        logger: log,
        ...(this.opts.onUploaded ? { onUploaded: this.opts.onUploaded } : {}),
        ...(this.opts.onFailed ? { onFailed: this.opts.onFailed } : {}),
      });
      const found = await scanCameraSpool(this.opts.spoolDir, cameraId);
      queue.seedUploaded(found.filter((s) => queue.isDone(s.name)));
      for (const segment of found) queue.enqueue(segment);
      const backlog = queue.backlog();
      if (backlog.files > 0) log.info(backlog, 'uploader: resuming backlog from the spool');
      this.queues.set(cameraId, queue);
      queue.start();
    }
  }

  enqueue(segment: FinishedSegment): void {
    const queue = this.queues.get(segment.cameraId);
    if (!queue) {
      this.opts.logger.error({ cameraId: segment.cameraId }, 'uploader: segment for an unknown camera');
      return;
    }
    queue.enqueue(segment);
  }

  backlog(cameraId: string): { files: number; bytes: number } {
    return this.queues.get(cameraId)?.backlog() ?? { files: 0, bytes: 0 };
  }

  /** Lets uploads in flight finish, then stops. */
  async stop(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.stop()));
  }
}
