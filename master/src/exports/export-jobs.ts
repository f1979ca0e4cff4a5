/**
 * Exports: an MP4 of one camera's recording over a range, made by ffmpeg from the storage
 * gateway's VOD playlist without re-encoding (`-c copy`, fast start), or with every face
 * blurred (blurred-export.ts: decoded, blurred frame by frame, encoded again). Jobs run at most
 * `maxRunning` at a time per master, report progress from ffmpeg's `-progress` output, write to a
 * `.part` file renamed when complete, and are kept for `keepMs` before the file is deleted.
 *
 * Jobs are a queue in the database (docs/adr/0024): any master claims the oldest one it can
 * (`FOR UPDATE SKIP LOCKED`) under a lease it renews while ffmpeg runs. A master killed mid-job
 * stops renewing; once the lease lapses another master takes the job and starts it again. The
 * folder of finished files is shared by the masters (`MASTER_EXPORT_DIR`, on the NAS), so any
 * of them serves the download.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
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
  /** Where finished files are kept (shared by the masters). */
  dir: string;
  /** This master process: its claims carry it. */
  instanceId: string;
  /** How long a claim lasts unless renewed (renewed every third of it). */
  leaseMs?: number;
  /** How often the queue is looked at without being told (lapsed claims, missed notices). */
  pollMs?: number;
  /** A job was queued here: the other masters are told (one of them may have a free slot). */
  onQueued?: () => void;
  /** A claim taken over from a master that stopped renewing it. */
  onTakeover?: () => void;
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

/** The job was taken over by another master while this one ran it. */
class ClaimLost extends Error {}

const MAX_ATTEMPTS = 3;

export class ExportJobs {
  private readonly running = new Map<string, ChildProcess[]>();
  private detector: Promise<FaceDetector> | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private claiming: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly jobs = new Set<Promise<void>>();

  constructor(private readonly o: ExportJobsOptions) {}

  private get leaseMs(): number {
    return this.o.leaseMs ?? 30_000;
  }

  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    const mine = await this.o.repo.releaseClaims(this.o.instanceId);
    if (mine > 0)
      this.o.log.warn({ jobs: mine }, 'exports this master was working when it stopped: queued again');
    this.cleanupTimer = setInterval(() => void this.cleanup(), 10 * 60_000);
    this.cleanupTimer.unref();
    this.pollTimer = setInterval(() => this.pump(), this.o.pollMs ?? 2000);
    this.pollTimer.unref();
    await this.cleanup();
    this.pump();
  }

  async create(job: NewExportJob) {
    const row = await this.o.repo.create(job);
    // This master takes its own job when it has a free slot; the others are told after.
    this.pump();
    await this.claiming;
    this.o.onQueued?.();
    return row;
  }

  /** Another master queued a job: claim it if a slot is free here. */
  queued(): void {
    this.pump();
  }

  /** The finished file of a done job. */
  file(id: string): string {
    return join(this.o.dir, `${id}.mp4`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.claiming;
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
    await Promise.allSettled([...this.jobs]);
    await (await this.detector?.catch(() => null))?.close();
  }

  /** Claims jobs while a slot is free (one claim round at a time, one more if asked meanwhile). */
  private pump(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = (async () => {
      do {
        this.again = false;
        while (!this.stopped && this.running.size < (this.o.maxRunning ?? 2)) {
          let job: ExportJobRow | null;
          try {
            job = await this.o.repo.claim(this.o.instanceId, this.leaseMs, MAX_ATTEMPTS);
          } catch (err) {
            this.o.log.warn({ err }, 'export queue not read; trying again');
            break;
          }
          if (!job) break;
          if (job.attempts > 1) {
            this.o.onTakeover?.();
            this.o.log.warn(
              { jobId: job.id, attempt: job.attempts },
              'export taken over: its master stopped',
            );
          }
          this.running.set(job.id, []);
          const work = this.run(job).finally(() => {
            this.jobs.delete(work);
            this.pump();
          });
          this.jobs.add(work);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.claiming = null;
    });
  }

  private async run(job: ExportJobRow): Promise<void> {
    const { repo, log, instanceId } = this.o;
    const t0 = Date.now();
    const part = join(this.o.dir, `${job.id}.${job.attempts}.mp4.part`);
    const rangeMs = job.to.getTime() - job.from.getTime();
    const keepVisible = keepVisibleOf(job);
    const blurred = job.blurFaces || job.blurMotion || keepVisible !== null;
    // A blurred export searches every frame: 0.13–0.30 × real time on a 2-core box
    // (bench/export-blur.ts), so it may take ten times its range.
    const timeoutMs = this.o.timeoutMs ?? (blurred ? 10 * 60_000 + 10 * rangeMs : 10 * 60_000);
    const children = this.running.get(job.id) ?? [];
    this.running.set(job.id, children);
    const killAll = () => {
      for (const c of children) c.kill('SIGKILL');
    };
    // The claim is renewed while the job runs; lost (taken over after a stall): the work stops.
    let lost = false;
    const renewal = setInterval(
      () => {
        repo.renew(job.id, instanceId, this.leaseMs).then(
          (held) => {
            if (held || lost) return;
            lost = true;
            log.warn({ jobId: job.id }, 'export claim lost to another master: stopping this run');
            killAll();
          },
          (err: Error) => log.warn({ jobId: job.id, err: err.message }, 'export claim not renewed'),
        );
      },
      Math.max(500, Math.floor(this.leaseMs / 3)),
    );
    let lastWrite = 0;
    // Progress writes are not awaited by ffmpeg's output handler; the last one is awaited before
    // the final state, so a late "99 %" can never land on a job already done.
    let progressWrite: Promise<unknown> = Promise.resolve();
    const progress = (done: number) => {
      const now = Date.now();
      if (now - lastWrite < 1000) return;
      lastWrite = now;
      progressWrite = progressWrite
        .then(() => repo.updateClaimed(job.id, instanceId, { progress: Math.min(0.99, done) }))
        .catch(() => {});
    };
    const timeout = setTimeout(killAll, timeoutMs);
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
    clearInterval(renewal);
    this.running.delete(job.id);
    await progressWrite;
    // Stopped here or taken over: the job is not this master's to finish; another one will.
    if (lost || this.stopped) {
      await rm(part, { force: true });
      log.warn({ jobId: job.id, lost, stopped: this.stopped }, 'export left to another master');
      return;
    }
    try {
      if (failure) throw failure;
      // Still ours just before the file takes the job's name: a master that took the job over
      // meanwhile writes the same name itself.
      if (!(await repo.renew(job.id, instanceId, this.leaseMs))) throw new ClaimLost();
      await rename(part, this.file(job.id));
      const { size } = await stat(this.file(job.id));
      const finishedAt = new Date();
      const finished = await repo.updateClaimed(job.id, instanceId, {
        state: 'done',
        progress: 1,
        bytes: BigInt(size),
        finishedAt,
        expiresAt: new Date(finishedAt.getTime() + (this.o.keepMs ?? 24 * 3600_000)),
        leaseUntil: null,
      });
      if (!finished) throw new ClaimLost();
      log.info({ jobId: job.id, cameraId: job.cameraId, bytes: size, ms: Date.now() - t0 }, 'export done');
      this.o.onFinished?.('done', Date.now() - t0);
    } catch (err) {
      await rm(part, { force: true });
      if (err instanceof ClaimLost) {
        log.warn({ jobId: job.id }, 'export finished after another master took it over: its result is kept');
        return;
      }
      const error = (err as Error).message;
      await repo
        .updateClaimed(job.id, instanceId, {
          state: 'failed',
          error: error.slice(0, 1000),
          finishedAt: new Date(),
          leaseUntil: null,
        })
        .catch((e: Error) => log.error({ jobId: job.id, err: e }, 'export state not stored'));
      log.warn({ jobId: job.id, cameraId: job.cameraId, error }, 'export failed');
      this.o.onFinished?.('failed', Date.now() - t0);
    }
    await this.removeParts(job.id);
  }

  /** Part files of earlier attempts at a job (masters that stopped mid-way). */
  private async removeParts(id: string): Promise<void> {
    try {
      for (const name of await readdir(this.o.dir))
        if (name.startsWith(`${id}.`) && name.endsWith('.part'))
          await rm(join(this.o.dir, name), { force: true });
    } catch (err) {
      this.o.log.debug({ err }, 'old export parts not removed');
    }
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
      // Each expired job is claimed by one master (the state changes once), then its file goes.
      for (const job of await this.o.repo.expired(new Date()))
        if (await this.o.repo.expire(job.id)) await rm(this.file(job.id), { force: true });
    } catch (err) {
      this.o.log.warn({ err }, 'export cleanup failed; retried later');
    }
  }
}
