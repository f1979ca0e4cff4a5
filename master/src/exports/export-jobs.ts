/**
 * Exports: an MP4 of one camera's recording over a range, made by ffmpeg from the storage
 * gateway's VOD playlist without re-encoding (`-c copy`, fast start), or with every face
 * blurred (blurred-export.ts: decoded, blurred frame by frame, encoded again). Jobs run at most
 * `maxRunning` at a time, report progress from ffmpeg's `-progress` output, write to a
 * `.part` file renamed when complete, and are kept for `keepMs` before the file is deleted.
 * A job belongs to the master process that made it (its file is on that host's disk).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { grantedPaths } from '@cctv/protocol';
import type { FaceDetector } from '@cctv/vision/faces';
import type { Logger } from 'pino';
import { exportBlurred } from './blurred-export.ts';
import {
  type ExportJobRow,
  type ExportRepository,
  keepVisibleOf,
  type NewExportJob,
} from './export-repository.ts';

export interface ExportJobsOptions {
  repo: ExportRepository;
  /** Where finished files are kept. */
  dir: string;
  gatewayUrl: string;
  /**
   * A grant for the job's user, camera and range, living `ttlS`: the gateway serves footage
   * only under one, exports included.
   */
  grant: (job: ExportJobRow, ttlS: number) => Promise<string>;
  log: Logger;
  ffmpeg?: string;
  maxRunning?: number;
  /** How long a finished file is kept. */
  keepMs?: number;
  /** An ffmpeg run longer than this is killed and the job failed. */
  timeoutMs?: number;
  onFinished?: (state: 'done' | 'failed', ms: number) => void;
  /** The BlazeFace model for exports with faces blurred. */
  faceModel?: string;
}

const STDERR_TAIL = 2000;

export class ExportJobs {
  private readonly queue: ExportJobRow[] = [];
  private readonly running = new Map<string, ChildProcess[]>();
  private detector: Promise<FaceDetector> | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: ExportJobsOptions) {}

  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    const left = await this.o.repo.failUnfinished(new Date());
    if (left > 0) this.o.log.warn({ jobs: left }, 'exports left unfinished by the last run marked failed');
    this.cleanupTimer = setInterval(() => void this.cleanup(), 10 * 60_000);
    this.cleanupTimer.unref();
    await this.cleanup();
  }

  async create(job: NewExportJob) {
    const row = await this.o.repo.create(job);
    this.queue.push(row);
    this.pump();
    return row;
  }

  /** The finished file of a done job. */
  file(id: string): string {
    return join(this.o.dir, `${id}.mp4`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    const children = [...this.running.values()].flat();
    const waits = children.map(
      (child) =>
        new Promise<void>((resolve) =>
          child.exitCode !== null || child.signalCode !== null
            ? resolve()
            : child.once('close', () => resolve()),
        ),
    );
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(waits);
    await (await this.detector?.catch(() => null))?.close();
  }

  private pump(): void {
    const max = this.o.maxRunning ?? 2;
    while (!this.stopped && this.running.size < max && this.queue.length > 0) {
      const job = this.queue.shift();
      if (job) void this.run(job);
    }
  }

  private async run(job: ExportJobRow): Promise<void> {
    const { repo, log } = this.o;
    const t0 = Date.now();
    const part = join(this.o.dir, `${job.id}.mp4.part`);
    const rangeMs = job.to.getTime() - job.from.getTime();
    const keepVisible = keepVisibleOf(job);
    const blurred = job.blurFaces || job.blurMotion || keepVisible !== null;
    // A blurred export searches every frame: 0.13–0.30 × real time on a 2-core box
    // (bench/export-blur.ts), so it may take ten times its range.
    const timeoutMs = this.o.timeoutMs ?? (blurred ? 10 * 60_000 + 10 * rangeMs : 10 * 60_000);
    const children: ChildProcess[] = [];
    this.running.set(job.id, children);
    await repo.update(job.id, { state: 'running' }).catch(() => {});
    let lastWrite = 0;
    // Progress writes are not awaited by ffmpeg's output handler; the last one is awaited before
    // the final state, so a late "99 %" can never land on a job already done.
    let progressWrite: Promise<unknown> = Promise.resolve();
    const progress = (done: number) => {
      const now = Date.now();
      if (now - lastWrite < 1000) return;
      lastWrite = now;
      progressWrite = progressWrite
        .then(() => repo.update(job.id, { progress: Math.min(0.99, done) }))
        .catch(() => {});
    };
    const timeout = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, timeoutMs);
    let failure: Error | null = null;
    try {
      // The grant lives as long as the job may run, plus a minute.
      const grant = await this.o.grant(job, Math.ceil(timeoutMs / 1000) + 60);
      const url = new URL(`${this.o.gatewayUrl}${grantedPaths.vod(grant, job.cameraId)}`);
      if (blurred) {
        const result = await exportBlurred({
          url: url.toString(),
          out: part,
          ffmpeg: this.o.ffmpeg ?? 'ffmpeg',
          detector: job.blurFaces ? () => this.faceDetector() : null,
          motion: job.blurMotion,
          keepVisible,
          onProgress: (frames, fps) => progress(((frames / fps) * 1000) / rangeMs),
          onChild: (c) => children.push(c),
        });
        log.info({ jobId: job.id, ...result }, 'export: blurred');
      } else await this.copy(url.toString(), part, rangeMs, children, progress);
    } catch (err) {
      failure = err as Error;
    }
    clearTimeout(timeout);
    this.running.delete(job.id);
    await progressWrite;
    try {
      if (failure) throw failure;
      await rename(part, this.file(job.id));
      const { size } = await stat(this.file(job.id));
      const finishedAt = new Date();
      await repo.update(job.id, {
        state: 'done',
        progress: 1,
        bytes: BigInt(size),
        finishedAt,
        expiresAt: new Date(finishedAt.getTime() + (this.o.keepMs ?? 24 * 3600_000)),
      });
      log.info({ jobId: job.id, cameraId: job.cameraId, bytes: size, ms: Date.now() - t0 }, 'export done');
      this.o.onFinished?.('done', Date.now() - t0);
    } catch (err) {
      await rm(part, { force: true });
      const error = this.stopped ? 'the master stopped before the export finished' : (err as Error).message;
      await repo
        .update(job.id, { state: 'failed', error: error.slice(0, 1000), finishedAt: new Date() })
        .catch((e: Error) => log.error({ jobId: job.id, err: e }, 'export state not stored'));
      log.warn({ jobId: job.id, cameraId: job.cameraId, error }, 'export failed');
      this.o.onFinished?.('failed', Date.now() - t0);
    }
    this.pump();
  }

  /** The range copied as it was recorded, progress from ffmpeg's `-progress` output. */
  private async copy(
    url: string,
    part: string,
    rangeMs: number,
    children: ChildProcess[],
    progress: (done: number) => void,
  ): Promise<void> {
    const args = [
      ...['-nostdin', '-hide_banner', '-loglevel', 'error', '-nostats', '-y'],
      ...['-rw_timeout', '15000000', '-i', url],
      ...['-map', '0', '-c', 'copy', '-movflags', '+faststart', '-progress', 'pipe:1', '-f', 'mp4', part],
    ];
    const child = spawn(this.o.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-STDERR_TAIL);
    });
    child.stdout?.on('data', (b: Buffer) => {
      const m = /out_time_us=(\d+)/.exec(b.toString());
      if (m) progress(Number(m[1]) / 1000 / rangeMs);
    });
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', (err) => {
        stderr += String(err);
        resolve(-1);
      });
      child.once('close', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(stderr.trim().split('\n').slice(-3).join(' ') || `ffmpeg exited ${code}`);
  }

  /** One face detector for every blurred export, loaded with the first. */
  private faceDetector(): Promise<FaceDetector> {
    const model = this.o.faceModel;
    if (!model) return Promise.reject(new Error('no face model configured (MASTER_FACE_MODEL)'));
    this.detector ??= import('@cctv/vision/faces').then(({ FaceDetector }) =>
      // Low threshold: a blurred non-face costs little, a missed face is shown.
      FaceDetector.create({ modelPath: model, threads: 2, minScore: 0.3 }),
    );
    this.detector.catch(() => {
      this.detector = null;
    });
    return this.detector;
  }

  /** Deletes the files of expired exports. */
  private async cleanup(): Promise<void> {
    try {
      for (const job of await this.o.repo.expired(new Date())) {
        await rm(this.file(job.id), { force: true });
        await this.o.repo.update(job.id, { state: 'expired' });
      }
    } catch (err) {
      this.o.log.warn({ err }, 'export cleanup failed; retried later');
    }
  }
}
