/**
 * Exports: an MP4 of one camera's recording over a range, made by ffmpeg from the storage
 * gateway's VOD playlist without re-encoding (`-c copy`, fast start). Jobs run at most
 * `maxRunning` at a time, report progress from ffmpeg's `-progress` output, write to a
 * `.part` file renamed when complete, and are kept for `keepMs` before the file is deleted.
 * A job belongs to the master process that made it (its file is on that host's disk).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { vodPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { ExportJobRow, ExportRepository } from './export-repository.ts';

export interface ExportJobsOptions {
  repo: ExportRepository;
  /** Where finished files are kept. */
  dir: string;
  gatewayUrl: string;
  log: Logger;
  ffmpeg?: string;
  maxRunning?: number;
  /** How long a finished file is kept. */
  keepMs?: number;
  /** An ffmpeg run longer than this is killed and the job failed. */
  timeoutMs?: number;
  onFinished?: (state: 'done' | 'failed', ms: number) => void;
}

const STDERR_TAIL = 2000;

export class ExportJobs {
  private readonly queue: ExportJobRow[] = [];
  private readonly running = new Map<string, ChildProcess>();
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

  async create(job: { userId: string; username: string; cameraId: string; from: Date; to: Date }) {
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
    const waits = [...this.running.values()].map(
      (child) => new Promise<void>((resolve) => child.once('close', () => resolve())),
    );
    for (const child of this.running.values()) child.kill('SIGKILL');
    await Promise.all(waits);
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
    const url = new URL(`${this.o.gatewayUrl}${vodPath(job.cameraId)}`);
    url.searchParams.set('from', job.from.toISOString());
    url.searchParams.set('to', job.to.toISOString());
    const rangeUs = (job.to.getTime() - job.from.getTime()) * 1000;
    const args = [
      ...['-nostdin', '-hide_banner', '-loglevel', 'error', '-nostats', '-y'],
      ...['-rw_timeout', '15000000', '-i', url.toString()],
      ...['-map', '0', '-c', 'copy', '-movflags', '+faststart', '-progress', 'pipe:1', '-f', 'mp4', part],
    ];
    const child = spawn(this.o.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.running.set(job.id, child);
    await repo.update(job.id, { state: 'running' }).catch(() => {});
    let stderr = '';
    let lastWrite = 0;
    child.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-STDERR_TAIL);
    });
    child.stdout?.on('data', (b: Buffer) => {
      const m = /out_time_us=(\d+)/.exec(b.toString());
      const now = Date.now();
      if (!m || now - lastWrite < 1000) return;
      lastWrite = now;
      const progress = Math.min(0.99, Number(m[1]) / rangeUs);
      void repo.update(job.id, { progress }).catch(() => {});
    });
    const timeout = setTimeout(() => child.kill('SIGKILL'), this.o.timeoutMs ?? 10 * 60_000);
    const code = await new Promise<number | null>((resolve) => {
      child.once('error', (err) => {
        stderr += String(err);
        resolve(-1);
      });
      child.once('close', (c) => resolve(c));
    });
    clearTimeout(timeout);
    this.running.delete(job.id);
    try {
      if (code !== 0)
        throw new Error(stderr.trim().split('\n').slice(-3).join(' ') || `ffmpeg exited ${code}`);
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
