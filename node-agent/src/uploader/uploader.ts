/**
 * Sends finished segments from the spool to the storage gateways, per camera in recording
 * order, resuming after restarts from each camera's upload state file.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { ID_PATTERN } from '@cctv/protocol';
import type { Logger } from 'pino';
import { type BackoffPolicy, realSleep, type Sleep } from '../process/backoff.ts';
import { cameraDir, scanCameraSpool } from '../spool/scan.ts';
import type { FinishedSegment } from '../spool/segment.ts';
import { CameraQueue, type UploadHooks } from './camera-queue.ts';
import type { GatewayPool } from './gateway-pool.ts';
import { httpPutFile, type PutFile } from './put-file.ts';
import { loadUploadState } from './upload-state.ts';

const ID_RE = new RegExp(ID_PATTERN);

export interface UploaderOptions extends UploadHooks {
  /** The gateways, in order of preference; shared with the snapshot store. */
  gateways: GatewayPool;
  /** The node's upload token, sent with every PUT. */
  gatewayToken?: string;
  /** The CA the gateway's certificate must chain to (config `tls.ca`). */
  gatewayCa?: Buffer;
  nodeId: string;
  spoolDir: string;
  cameraIds: string[];
  logger: Logger;
  put?: PutFile;
  sleep?: Sleep;
  backoff?: BackoffPolicy;
}

export class Uploader {
  private readonly queues = new Map<string, CameraQueue>();
  private started = false;

  constructor(private readonly opts: UploaderOptions) {}

  /**
   * Loads each camera's state, queues what earlier runs left un-uploaded, starts sending.
   * Spool folders of cameras no longer configured are drained too: nothing recorded is left.
   */
  async start(): Promise<void> {
    this.started = true;
    const onDisk = await readdir(this.opts.spoolDir, { withFileTypes: true }).catch(() => []);
    const ids = new Set(this.opts.cameraIds);
    for (const entry of onDisk) if (entry.isDirectory() && ID_RE.test(entry.name)) ids.add(entry.name);
    for (const cameraId of ids) await this.ensureCamera(cameraId);
  }

  /** The camera's queue, made (and resumed from the spool) when it is new; idempotent. */
  async ensureCamera(cameraId: string): Promise<CameraQueue> {
    const existing = this.queues.get(cameraId);
    if (existing) return existing;
    const log = this.opts.logger.child({ cameraId });
    const dir = cameraDir(this.opts.spoolDir, cameraId);
    await mkdir(dir, { recursive: true });
    const state = await loadUploadState(dir);
    const again = this.queues.get(cameraId); // made meanwhile by a concurrent call
    if (again) return again;
    const queue = new CameraQueue({
      cameraId,
      spoolDir: this.opts.spoolDir,
      gateways: this.opts.gateways,
      nodeId: this.opts.nodeId,
      state,
      put: this.opts.put ?? httpPutFile({ token: this.opts.gatewayToken, ca: this.opts.gatewayCa }),
      sleep: this.opts.sleep ?? realSleep,
      backoff: this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 },
      logger: log,
      ...(this.opts.onUploaded ? { onUploaded: this.opts.onUploaded } : {}),
      ...(this.opts.onFailed ? { onFailed: this.opts.onFailed } : {}),
    });
    this.queues.set(cameraId, queue);
    const found = await scanCameraSpool(this.opts.spoolDir, cameraId);
    queue.seedUploaded(found.filter((s) => queue.isDone(s.name)));
    for (const segment of found) queue.enqueue(segment);
    const backlog = queue.backlog();
    if (backlog.files > 0) log.info(backlog, 'uploader: resuming backlog from the spool');
    if (this.started) queue.start();
    return queue;
  }

  enqueue(segment: FinishedSegment): void {
    const queue = this.queues.get(segment.cameraId);
    if (!queue) {
      this.opts.logger.error({ cameraId: segment.cameraId }, 'uploader: segment for an unknown camera');
      return;
    }
    queue.enqueue(segment);
  }

  backlog(cameraId: string): { files: number; bytes: number; oldestAt: Date | null } {
    return this.queues.get(cameraId)?.backlog() ?? { files: 0, bytes: 0, oldestAt: null };
  }

  dropped(cameraId: string): number {
    return this.queues.get(cameraId)?.dropped ?? 0;
  }

  /** Every camera queue, configured or draining, for the spool quota. */
  all(): CameraQueue[] {
    return [...this.queues.values()];
  }

  /** Lets uploads in flight finish, then stops. */
  async stop(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.stop()));
  }
}
