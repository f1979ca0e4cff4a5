/**
 * Event snapshots on their way to the storage gateway: each best frame is encoded (with
 * ffmpeg, one at a time) into a JPEG and a small thumbnail in a pending folder, then uploaded
 * with its sha256 and deleted once the gateway has it. Pending files survive restarts and
 * gateway outages; a size cap drops the oldest first (counted) so a long outage cannot fill
 * the disk with pictures.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  eventSnapshotNames,
  isSnapshotName,
  isValidId,
  SNAPSHOT_HEADERS,
  snapshotPath,
} from '@cctv/protocol';
import type { I420Image } from '@cctv/vision';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, realSleep, type Sleep } from '../process/backoff.ts';
import {
  type GatewayPool,
  GatewayUnreachable,
  isGatewayRefusal,
  putToGateway,
} from '../uploader/gateway-pool.ts';
import { describeError, httpPutFile, type PutFile, readForUpload } from '../uploader/put-file.ts';

export interface SnapshotStoreOptions {
  dir: string;
  /** The gateways, in order of preference; shared with the uploader. */
  gateways: GatewayPool;
  /** The node's upload token, sent with every PUT. */
  gatewayToken?: string;
  /** The CA the gateway's certificate must chain to (config `tls.ca`). */
  gatewayCa?: Buffer;
  nodeId: string;
  logger: Logger;
  thumbnailWidth?: number;
  /** ffmpeg -q:v for the full image, 2 (best) .. 31. */
  jpegQuality?: number;
  maxPendingBytes?: number;
  put?: PutFile;
  sleep?: Sleep;
  backoff?: BackoffPolicy;
  onStored?: (cameraId: string, bytes: number) => void;
  onFailed?: (cameraId: string, reason: 'encode' | 'refused' | 'dropped') => void;
}

interface Pending {
  cameraId: string;
  name: string;
  path: string;
  bytes: number;
}

interface EncodeJob {
  cameraId: string;
  image: string;
  thumbnail: string;
  frame: I420Image | Promise<I420Image>;
}

export class SnapshotStore {
  private readonly queue: Pending[] = [];
  private readonly jobs: EncodeJob[] = [];
  private pendingBytes = 0;
  private encoding = false;
  private running = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly put: PutFile;

  constructor(private readonly opts: SnapshotStoreOptions) {
    this.put = opts.put ?? httpPutFile({ timeoutMs: 30_000, token: opts.gatewayToken, ca: opts.gatewayCa });
  }

  /** Queues what earlier runs left, then uploads in the background. */
  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const found: (Pending & { mtimeMs: number })[] = [];
    for (const cam of await readdir(this.opts.dir, { withFileTypes: true })) {
      if (!cam.isDirectory() || !isValidId(cam.name)) continue;
      for (const name of await readdir(join(this.opts.dir, cam.name))) {
        const path = join(this.opts.dir, cam.name, name);
        if (!isSnapshotName(name)) {
          await rm(path, { force: true }); // an encode cut short by a crash
          continue;
        }
        const s = await stat(path);
        found.push({ cameraId: cam.name, name, path, bytes: s.size, mtimeMs: s.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { mtimeMs: _, ...p } of found) this.enqueue(p);
    this.running = true;
    this.loop = this.uploadLoop();
  }

  /** Pending uploads (files) and their bytes. */
  backlog(): { files: number; bytes: number } {
    return { files: this.queue.length, bytes: this.pendingBytes };
  }

  /**
   * Encodes `frame` in the background (the caller hands it over and must not change it; it
   * may still be in the making, e.g. faces being blurred) and returns the gateway paths the
   * image and thumbnail will have.
   */
  save(
    cameraId: string,
    eventId: string,
    n: number,
    frame: I420Image | Promise<I420Image>,
  ): { image: string; thumbnail: string } {
    // The master stores only references to the event's own names, and the gateway serves a
    // snapshot under a grant for the event it names.
    const names = eventSnapshotNames(eventId, n);
    if (this.jobs.length >= 16) {
      this.opts.logger.warn({ cameraId, eventId }, 'snapshot skipped: encoder queue full');
      this.opts.onFailed?.(cameraId, 'dropped');
    } else {
      this.jobs.push({ cameraId, ...names, frame });
      void this.encodeNext();
    }
    return { image: snapshotPath(cameraId, names.image), thumbnail: snapshotPath(cameraId, names.thumbnail) };
  }

  private async encodeNext(): Promise<void> {
    if (this.encoding) return;
    this.encoding = true;
    try {
      for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
        try {
          await this.encode(job);
        } catch (err) {
          this.opts.logger.error(
            { cameraId: job.cameraId, err: (err as Error).message },
            'snapshot not encoded',
          );
          this.opts.onFailed?.(job.cameraId, 'encode');
        }
      }
    } finally {
      this.encoding = false;
    }
  }

  private async encode(job: EncodeJob): Promise<void> {
    const dir = join(this.opts.dir, job.cameraId);
    await mkdir(dir, { recursive: true });
    const { width, height, data } = await job.frame;
    const thumbW = Math.min(width, this.opts.thumbnailWidth ?? 240);
    const tmp = (name: string) => join(dir, `${name}.part`);
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      '-s',
      `${width}x${height}`,
      '-i',
      'pipe:0',
      '-filter_complex',
      `[0:v]split=2[a][b];[b]scale=${thumbW}:-2:flags=area[t]`,
      '-map',
      '[a]',
      '-frames:v',
      '1',
      '-q:v',
      String(this.opts.jpegQuality ?? 4),
      '-f',
      'mjpeg',
      '-y',
      tmp(job.image),
      '-map',
      '[t]',
      '-frames:v',
      '1',
      '-q:v',
      '6',
      '-f',
      'mjpeg',
      '-y',
      tmp(job.thumbnail),
    ];
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        if (err.length < 2000) err += c.toString();
      });
      child.stdin.on('error', () => {});
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`ffmpeg exit ${code}: ${err.trim().split('\n').at(-1)}`)),
      );
      child.stdin.end(data);
    });
    for (const name of [job.image, job.thumbnail]) {
      const path = join(dir, name);
      await rename(tmp(name), path);
      this.enqueue({ cameraId: job.cameraId, name, path, bytes: (await stat(path)).size });
    }
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.pendingBytes += p.bytes;
    const cap = this.opts.maxPendingBytes ?? 64 * 1024 * 1024;
    while (this.pendingBytes > cap && this.queue.length > 1) {
      const oldest = this.queue.shift() as Pending;
      this.pendingBytes -= oldest.bytes;
      void rm(oldest.path, { force: true });
      this.opts.logger.error(
        { cameraId: oldest.cameraId, name: oldest.name },
        'snapshot dropped: pending cap',
      );
      this.opts.onFailed?.(oldest.cameraId, 'dropped');
    }
    this.wake?.();
  }

  private async uploadLoop(): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    const policy = this.opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
    let failures = 0;
    while (this.running) {
      const next = this.queue[0];
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const outcome = await this.upload(next);
      if (outcome === 'elsewhere') continue;
      if (outcome === 'retry') {
        await sleep(backoffDelay(policy, failures++), this.abort.signal);
        continue;
      }
      failures = 0;
      if (this.queue[0] === next) this.queue.shift();
      this.pendingBytes -= next.bytes;
      await rm(next.path, { force: true });
    }
  }

  /** `elsewhere`: the gateway is out of service and another one takes the retry at once. */
  private async upload(p: Pending): Promise<'done' | 'retry' | 'elsewhere'> {
    const pool = this.opts.gateways;
    const gateway = pool.pick();
    let error: string;
    let outage: boolean;
    let retryAfterMs = 0;
    try {
      const url = new URL(snapshotPath(p.cameraId, p.name), gateway);
      const file = await readForUpload(p.path);
      const result = await putToGateway(this.put, url, file, {
        [SNAPSHOT_HEADERS.sha256]: file.sha256,
        [SNAPSHOT_HEADERS.node]: this.opts.nodeId,
        'content-type': 'image/jpeg',
      });
      outage = isGatewayRefusal(result.status);
      if (!outage) pool.succeeded(gateway);
      if (result.status >= 200 && result.status < 300) {
        this.opts.onStored?.(p.cameraId, p.bytes);
        return 'done';
      }
      error = describeError(result);
      retryAfterMs = result.retryAfterMs ?? 0;
      // The gateway refused the content itself: sending it again cannot help.
      if ([400, 409, 411, 413, 415, 422].includes(result.status)) {
        this.opts.logger.error({ cameraId: p.cameraId, name: p.name, error }, 'snapshot refused');
        this.opts.onFailed?.(p.cameraId, 'refused');
        return 'done';
      }
    } catch (err) {
      error = (err as Error).message;
      outage = err instanceof GatewayUnreachable;
    }
    this.opts.logger.warn({ cameraId: p.cameraId, name: p.name, gateway, error }, 'snapshot upload failed');
    return outage && pool.failed(gateway, error, retryAfterMs) ? 'elsewhere' : 'retry';
  }

  async stop(): Promise<void> {
    while (this.encoding || this.jobs.length) await new Promise((r) => setTimeout(r, 20));
    this.running = false;
    this.abort.abort();
    this.wake?.();
    await this.loop;
  }
}
