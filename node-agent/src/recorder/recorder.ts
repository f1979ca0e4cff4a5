/**
 * One camera's recorder: a supervised ffmpeg writing fMP4 HLS into `<spool>/<camera>/`, one
 * playlist + init file per ffmpeg run. A segment is finished once it is listed in the run's
 * playlist, which is watched with fs.watch and a poll as fallback; each finished segment is
 * reported through onSegment, in order.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { CameraState } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../process/backoff.ts';
import { type ChildExit, SupervisedChild } from '../process/supervised-child.ts';
import { cameraDir, readFinishedSegments } from '../spool/scan.ts';
import { type FinishedSegment, initName, newRunId, playlistName, segmentPattern } from '../spool/segment.ts';
import { type CameraPlan, ffmpegArgs } from './camera-plan.ts';
import { countSamples } from './fmp4-samples.ts';
import { SegmentStats } from './segment-stats.ts';
import { clearPid, notePid, reapStaleFfmpeg } from './stale-ffmpeg.ts';

export interface RecorderOptions {
  plan: CameraPlan;
  spoolDir: string;
  segmentSeconds: number;
  logger: Logger;
  onSegment: (segment: FinishedSegment) => void;
  onState?: (state: CameraState, reason: string | undefined) => void;
  ffmpeg?: string;
  now?: () => Date;
  pollMs?: number;
  backoff?: BackoffPolicy;
  /** Unexpected exits in a row before the camera is reported `failed` (it keeps retrying). */
  failedAfter?: number;
}

export interface RecorderStatus {
  id: string;
  state: CameraState;
  reason?: string;
  fps: number;
  bitrateKbps: number;
  lastSegmentAt: Date | null;
  segmentsRecorded: number;
}

interface Run {
  runId: string;
  emitted: Set<string>;
}

export class Recorder {
  readonly cameraId: string;
  private readonly dir: string;
  private readonly child: SupervisedChild;
  private readonly stats = new SegmentStats();
  private state: CameraState = 'stopped';
  private reason: string | undefined;
  private run: Run | null = null;
  private lastRunId = '';
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private scanChain: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly opts: RecorderOptions) {
    this.cameraId = opts.plan.id;
    this.dir = cameraDir(opts.spoolDir, opts.plan.id);
    this.child = new SupervisedChild({
      name: `ffmpeg[${this.cameraId}]`,
      command: opts.ffmpeg ?? 'ffmpeg',
      args: () => this.nextRunArgs(),
      logger: opts.logger,
      backoff: opts.backoff ?? { initialMs: 1000, maxMs: 30_000 },
      quitKey: 'q',
      onSpawn: (pid) => void notePid(this.dir, pid),
      onExit: (exit) => this.onExit(exit),
    });
  }

  /** The running ffmpeg's pid (diagnostics and tests). */
  get ffmpegPid(): number | undefined {
    return this.child.pid;
  }

  status(): RecorderStatus {
    return {
      id: this.cameraId,
      state: this.state,
      ...(this.reason ? { reason: this.reason } : {}),
      fps: this.stats.fps(),
      bitrateKbps: this.stats.bitrateKbps(),
      lastSegmentAt: this.stats.lastSegmentAt,
      segmentsRecorded: this.stats.segmentsRecorded,
    };
  }

  async start(): Promise<void> {
    this.stopping = false;
    await mkdir(this.dir, { recursive: true });
    await reapStaleFfmpeg(this.dir, this.opts.logger);
    this.setState('starting');
    this.watcher = watch(this.dir, (_event, file) => {
      if (this.run && file && String(file).startsWith(this.run.runId)) this.scheduleScan(this.run);
    });
    this.watcher.on('error', (err) => this.opts.logger.warn({ err }, 'spool watch failed, polling only'));
    this.poll = setInterval(() => this.run && this.scheduleScan(this.run), this.opts.pollMs ?? 1000);
    this.child.start();
  }

  /** Lets ffmpeg finish its last segment, reports it, and resolves once ffmpeg is gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.child.stop();
    await clearPid(this.dir);
    const run = this.run;
    if (run) this.scheduleScan(run);
    await this.scanChain;
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.run = null;
    this.setState('stopped');
  }

  private nextRunArgs(): string[] {
    let runId = newRunId((this.opts.now ?? (() => new Date()))());
    // Two runs in the same millisecond would share names; step past the previous one.
    if (runId <= this.lastRunId) runId = newRunId(new Date(Date.now() + 1));
    this.lastRunId = runId;
    this.run = { runId, emitted: new Set() };
    if (this.state !== 'reconnecting' && this.state !== 'failed') this.setState('starting');
    this.opts.logger.info({ runId }, 'recorder: ffmpeg run starting');
    return ffmpegArgs(
      this.opts.plan,
      {
        dir: this.dir,
        playlist: playlistName(runId),
        init: initName(runId),
        segmentPattern: segmentPattern(runId),
      },
      this.opts.segmentSeconds,
    );
  }

  private onExit(exit: ChildExit): void {
    const run = this.run;
    if (run) this.scheduleScan(run); // the last segment of the run is listed on a clean exit
    if (exit.expected) return;
    const last = exit.stderrTail.at(-1) ?? `exit code ${exit.code ?? exit.signal}`;
    const failed = exit.failures >= (this.opts.failedAfter ?? 5);
    this.setState(failed ? 'failed' : 'reconnecting', `ffmpeg exited: ${last}`.slice(0, 300));
  }

  private scheduleScan(run: Run): void {
    this.scanChain = this.scanChain
      .then(() => this.scanRun(run))
      .catch((err) => this.opts.logger.error({ err }, 'recorder: playlist scan failed'));
  }

  private async scanRun(run: Run): Promise<void> {
    const segments = await readFinishedSegments(this.cameraId, this.dir, playlistName(run.runId));
    for (const segment of segments) {
      if (run.emitted.has(segment.name)) continue;
      run.emitted.add(segment.name);
      const frames = await countSamples(segment.path).catch(() => null);
      this.stats.add(segment, frames);
      this.child.resetBackoff();
      if (this.run === run && !this.stopping) this.setState('recording');
      this.opts.logger.debug({ segment: segment.name, durationMs: segment.durationMs }, 'segment finished');
      this.opts.onSegment(segment);
    }
  }

  private setState(state: CameraState, reason?: string): void {
    if (this.state === state && this.reason === reason) return;
    this.state = state;
    this.reason = state === 'recording' || state === 'starting' ? undefined : reason;
    this.opts.logger.info({ state, reason }, `camera ${state}`);
    this.opts.onState?.(state, reason);
  }
}
