/**
 * One camera's recorder: a supervised ffmpeg writing fMP4 HLS into `<spool>/<camera>/`, one
 * playlist + init file per ffmpeg run. A segment is finished once it is listed in the run's
 * playlist, which is watched with fs.watch and a poll as fallback; each finished segment is
 * reported through onSegment, in order. Two watchdogs end a run that stalls: ffmpeg's progress
 * output standing still, and no new segment for too long. A software encode that cannot keep
 * up is replaced at once by a run that copies the camera's codec (encode-fallback.ts). With
 * `handoffS`, a run outlives its agent and the next agent's recorder takes it over (keeper.ts,
 * adopted-run.ts). Over 400 lines, it stays one file: start, stop, watchdogs, exit and
 * playlist scan share one run's state; the plan, progress, fallback, take-over, stats and
 * stale-process parts are their own files.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CameraState } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../process/backoff.ts';
import {
  type ChildExit,
  type ExitCause,
  type RunSpec,
  SupervisedChild,
} from '../process/supervised-child.ts';
import { parsePlaylist } from '../spool/playlist.ts';
import { PlaylistFollower } from '../spool/playlist-follower.ts';
import { applyClockBias, saveClockBias } from '../spool/run-clock.ts';
import { cameraDir } from '../spool/scan.ts';
import { type FinishedSegment, initName, newRunId, playlistName, segmentPattern } from '../spool/segment.ts';
import { AdoptedRun } from './adopted-run.ts';
import { type CameraPlanner, ffmpegArgs, type PreparedRun } from './camera-plan.ts';
import { EncodeFallback } from './encode-fallback.ts';
import { EncodeWatch } from './encode-watch.ts';
import { countSamples } from './fmp4-samples.ts';
import { findPredecessor, keeperCommand } from './keeper.ts';
import { ProgressReader } from './progress.ts';
import { SegmentStats } from './segment-stats.ts';
import { shellQuote } from './source.ts';
import { clearPid, notedPid, notePid, reapStaleFfmpeg } from './stale-ffmpeg.ts';

export interface RecorderOptions {
  planner: CameraPlanner;
  spoolDir: string;
  segmentSeconds: number;
  logger: Logger;
  onSegment: (segment: FinishedSegment) => void;
  onState?: (state: CameraState, reason: string | undefined) => void;
  /** A run ended without stop(): why (exit, stall, prepare-failed = unreachable, spawn-failed). */
  onRestart?: (cause: ExitCause) => void;
  ffmpeg?: string;
  now?: () => Date;
  pollMs?: number;
  backoff?: BackoffPolicy;
  /**
   * A camera without footage this long while every attempt fails is reported `failed`
   * (default 60 s); it keeps retrying, every `failedRetryMs` (default 10 s).
   */
  failedAfterS?: number;
  failedRetryMs?: number;
  /** ffmpeg's progress standing still this long ends the run (default 15 s). */
  stallTimeoutS?: number;
  /** No new segment this long ends the run (default: max(60 s, 5 segments, 2 × stallTimeoutS)). */
  segmentTimeoutS?: number;
  /**
   * Seconds a run goes on once its agent is gone, for the next agent to take over (keeper.ts);
   * 0: a run ends with its agent.
   */
  handoffS?: number;
}

export interface RecorderStatus {
  id: string;
  state: CameraState;
  reason?: string;
  fps: number;
  bitrateKbps: number;
  lastSegmentAt: Date | null;
  segmentsRecorded: number;
  restarts: number;
  ffmpegPid?: number | undefined;
  transport: 'tcp' | 'udp' | null;
  mode: 'copy' | 'transcode' | null;
  encoder: string | null;
  /** Why the camera's own codec is stored instead of the encode it had (null: no fallback). */
  fallback: string | null;
}

/** With a working watch, the poll reads the playlist on every this many ticks. */
const POLL_SCAN_EVERY = 5;

interface Run {
  runId: string;
  prepared: PreparedRun;
  emitted: Set<string>;
  startedAt: number;
  /** ffmpeg's program date time runs off the wall clock by up to a second; this corrects it. */
  clockBiasMs: number | null;
  playlist: PlaylistFollower;
  /** Judges the software encode of this run; null when not watched (or judged already). */
  watch: EncodeWatch | null;
  /**
   * When each segment was first seen listed while the run's scans wait for a replaced run:
   * the clock correction needs the listing time, not the later time of the scan.
   */
  listedAt: Map<string, number>;
}

export class Recorder {
  readonly cameraId: string;
  private readonly dir: string;
  private readonly child: SupervisedChild;
  private readonly stats = new SegmentStats();
  private readonly progress = new ProgressReader();
  private state: CameraState = 'stopped';
  private reason: string | undefined;
  private run: Run | null = null;
  private watchFailed = false;
  /** The run whose playlist scan is queued and not started yet, if any. */
  private scanWaiting: Run | null = null;
  private lastRunId = '';
  private lastSegmentMs = 0;
  private restarts = 0;
  /** Footage last seen (or the recorder's start), for judging a camera `failed`. */
  private lastFootageMs = Date.now();
  private readonly backoff: BackoffPolicy;
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private scanChain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly fallback: EncodeFallback<Run>;
  /** The run the previous agent left recording, until it has ended. */
  private adopted: AdoptedRun | null = null;

  constructor(private readonly opts: RecorderOptions) {
    this.cameraId = opts.planner.id;
    this.dir = cameraDir(opts.spoolDir, opts.planner.id);
    this.backoff = opts.backoff ?? { initialMs: 500, maxMs: 5000 };
    this.child = new SupervisedChild({
      name: `ffmpeg[${this.cameraId}]`,
      prepare: () => this.prepareRun(),
      logger: opts.logger,
      backoff: this.backoff,
      quitKey: 'q',
      stallAfterMs: (opts.stallTimeoutS ?? 15) * 1000,
      onSpawn: (pid) => void notePid(this.dir, pid),
      onExit: (exit) => this.onExit(exit),
      onStdoutLine: (line) => {
        if (this.progress.line(line)) this.child.alive();
        if (line.startsWith('progress=')) this.fallback.progress(this.progress.outTimeS);
        // This run has a segment's worth: the previous agent's run can close its last one.
        if (this.adopted && this.progress.outTimeS >= opts.segmentSeconds) this.adopted.retire();
      },
    });
    this.fallback = new EncodeFallback<Run>({
      child: this.child,
      planner: opts.planner,
      logger: opts.logger,
      segmentSeconds: opts.segmentSeconds,
      current: () => (this.stopping ? null : this.run),
      // Its own scan, not on the chain: the chain's scans of the new run wait for this one.
      finalScan: (run) => this.scanRun(run),
    });
  }

  /** The running ffmpeg's pid (diagnostics and tests). */
  get ffmpegPid(): number | undefined {
    return this.child.pid;
  }

  status(): RecorderStatus {
    const recording = this.run?.prepared;
    return {
      id: this.cameraId,
      state: this.state,
      ...(this.reason ? { reason: this.reason } : {}),
      fps: this.stats.fps(),
      bitrateKbps: this.stats.bitrateKbps(),
      lastSegmentAt: this.stats.lastSegmentAt,
      segmentsRecorded: this.stats.segmentsRecorded,
      restarts: this.restarts,
      ffmpegPid: this.child.pid,
      transport: recording?.transport ?? null,
      mode: recording?.info.recording.mode ?? null,
      encoder: recording?.info.recording.encoder ?? null,
      fallback: recording?.fallback ?? null,
    };
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.lastFootageMs = Date.now();
    await mkdir(this.dir, { recursive: true });
    await this.adoptOrReap();
    this.setState('starting');
    // Only the playlist's own events: ffmpeg lists a segment there once it is complete, and it
    // writes each segment in many pieces, each an event that would read the playlist again (a
    // tenth of a core's percent per camera for nothing).
    this.watcher = watch(this.dir, (_event, file) => {
      if (this.run && file && String(file) === playlistName(this.run.runId)) {
        this.noteListed(this.run);
        this.scheduleScan(this.run);
      }
    });
    this.watcher.on('error', (err) => {
      this.watchFailed = true;
      this.opts.logger.warn({ err }, 'spool watch failed, polling only');
    });
    // While the watch works, the poll reads the playlist every few ticks only, as a safety net
    // (each read is an open, a stat and a close through the thread pool, per camera).
    let ticks = 0;
    this.poll = setInterval(() => {
      if (this.run && (this.watchFailed || ++ticks % POLL_SCAN_EVERY === 0)) this.scheduleScan(this.run);
      if (this.run) this.noteListed(this.run);
      this.checkSegmentWatchdog();
      this.fallback.sampleCpu();
    }, this.opts.pollMs ?? 1000);
    this.child.start();
  }

  /**
   * Lets ffmpeg finish its last segment, reports it, and resolves once ffmpeg is gone. With
   * `handOff` (the agent stopping, not the camera) and a run that can outlive the agent, the
   * run is left recording for the next agent to take over instead.
   */
  async stop(opts: { handOff?: boolean } = {}): Promise<void> {
    this.stopping = true;
    const handed = opts.handOff && (this.opts.handoffS ?? 0) > 0 ? this.child.detach() : undefined;
    if (handed !== undefined) {
      this.opts.logger.info(
        { pid: handed, runId: this.run?.runId, graceS: this.opts.handoffS },
        'recorder: run left recording for the next agent',
      );
      this.adopted?.abandon();
    } else {
      const replaced = this.fallback.stop();
      this.adopted?.retire();
      await this.child.stop();
      await replaced;
      await this.adopted?.done;
      await clearPid(this.dir);
    }
    const run = this.run;
    if (run) this.scheduleScan(run);
    await this.scanChain;
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.setState('stopped');
  }

  /**
   * A run the previous agent left recording here is followed until this recorder's own run has
   * footage (adopted-run.ts); any other ffmpeg left in the folder is ended.
   */
  private async adoptOrReap(): Promise<void> {
    const pid = await notedPid(this.dir);
    const predecessor =
      pid !== null && (this.opts.handoffS ?? 0) > 0 ? await findPredecessor(this.dir, pid) : null;
    if (!predecessor) {
      await reapStaleFfmpeg(this.dir, this.opts.logger);
      return;
    }
    const adopted = new AdoptedRun({
      cameraId: this.cameraId,
      dir: this.dir,
      predecessor,
      logger: this.opts.logger,
      onSegment: (segment) => {
        this.lastSegmentMs = Date.now();
        this.lastFootageMs = this.lastSegmentMs;
        this.opts.onSegment(segment);
      },
    });
    this.adopted = adopted;
    void adopted.done.then(() => {
      if (this.adopted === adopted) this.adopted = null;
    });
    adopted.start();
  }

  private async prepareRun(): Promise<RunSpec> {
    const prepared = await this.opts.planner.prepare();
    let runId = newRunId((this.opts.now ?? (() => new Date()))());
    // Two runs in the same millisecond would share names; step past the previous one.
    if (runId <= this.lastRunId) runId = newRunId(new Date(Date.now() + 1));
    this.lastRunId = runId;
    this.run = {
      runId,
      prepared,
      emitted: new Set(),
      startedAt: Date.now(),
      clockBiasMs: null,
      playlist: new PlaylistFollower(this.cameraId, this.dir, playlistName(runId)),
      watch: prepared.watch ? new EncodeWatch(prepared.watch, prepared.info.recording.encoder) : null,
      listedAt: new Map(),
    };
    this.progress.reset();
    if (this.state !== 'reconnecting' && this.state !== 'failed') this.setState('starting');
    this.opts.logger.info(
      {
        runId,
        transport: prepared.transport,
        mode: prepared.info.recording.mode,
        encoder: prepared.info.recording.encoder,
        reason: prepared.info.recording.reason,
      },
      'recorder: ffmpeg run starting',
    );
    const ffmpeg = this.opts.ffmpeg ?? 'ffmpeg';
    const args = ffmpegArgs(
      prepared,
      {
        dir: this.dir,
        playlist: playlistName(runId),
        init: initName(runId),
        segmentPattern: segmentPattern(runId),
      },
      this.opts.segmentSeconds,
    );
    if (!prepared.feeder) {
      const handoffS = this.opts.handoffS ?? 0;
      if (handoffS <= 0) return { command: ffmpeg, args };
      return { ...keeperCommand(handoffS, ffmpeg, args), quitKey: null, outlivesAgent: true };
    }
    // The Pi camera tool feeds ffmpeg's stdin; both run in one process group, stopped together.
    const feeder = [prepared.feeder.command, ...prepared.feeder.args].map(shellQuote).join(' ');
    const recorder = [ffmpeg, ...args].map(shellQuote).join(' ');
    return { command: '/bin/sh', args: ['-c', `${feeder} | exec ${recorder}`], quitKey: null };
  }

  /** No new segment for too long while ffmpeg still reports progress: the output is stuck. */
  private checkSegmentWatchdog(): void {
    const run = this.run;
    if (!run || !this.child.running || this.stopping) return;
    const limitMs =
      (this.opts.segmentTimeoutS ??
        Math.max(60, 5 * this.opts.segmentSeconds, 2 * (this.opts.stallTimeoutS ?? 15))) * 1000;
    const since = Math.max(run.startedAt, this.lastSegmentMs);
    const idle = Date.now() - since;
    if (idle >= limitMs) this.child.endStalled(`stalled: no new segment for ${Math.round(idle / 1000)} s`);
  }

  private onExit(exit: ChildExit): void {
    const run = this.run;
    if (run) this.scheduleScan(run); // the last segment of the run is listed on a clean exit
    if (exit.expected) return;
    this.restarts++;
    this.opts.onRestart?.(exit.cause);
    // Judged after the final scan, so a run that finished a segment at its end counts as producing.
    this.scanChain = this.scanChain.then(() => {
      if (exit.cause !== 'prepare-failed') this.opts.planner.runEnded((run?.emitted.size ?? 0) > 0);
    });
    const failed = Date.now() - this.lastFootageMs >= (this.opts.failedAfterS ?? 60) * 1000;
    if (failed && this.state !== 'failed') {
      const slow = this.opts.failedRetryMs ?? 10_000;
      this.child.setBackoff({ initialMs: slow, maxMs: slow });
    }
    const reason = exit.cause === 'exit' ? `ffmpeg exited: ${exit.detail}` : exit.detail;
    this.setState(failed ? 'failed' : 'reconnecting', reason.slice(0, 300));
  }

  private scheduleScan(run: Run): void {
    // One scan waiting is enough: it reads everything appended up to when it runs.
    if (this.scanWaiting === run) return;
    this.scanWaiting = run;
    this.scanChain = this.scanChain
      .then(() => {
        if (this.scanWaiting === run) this.scanWaiting = null;
        return this.scanRun(run);
      })
      .catch((err) => this.opts.logger.error({ err }, 'recorder: playlist scan failed'));
  }

  private async scanRun(run: Run): Promise<void> {
    await this.fallback.before(run);
    await this.adopted?.done;
    const segments = await run.playlist.next();
    for (const raw of segments) {
      if (run.emitted.has(raw.name)) continue;
      const first = run.emitted.size === 0;
      run.emitted.add(raw.name);
      this.lastSegmentMs = Date.now();
      this.lastFootageMs = this.lastSegmentMs;
      const segment = await this.correctClock(run, raw);
      const frames = await countSamples(segment.path).catch(() => null);
      this.stats.add(segment, frames);
      this.child.resetBackoff();
      if (this.state === 'failed') this.child.setBackoff(this.backoff);
      if (first) this.opts.planner.runProduced();
      else this.opts.planner.footage();
      if (this.run === run && !this.stopping && this.child.running) this.setState('recording');
      this.opts.logger.debug({ segment: segment.name, durationMs: segment.durationMs }, 'segment finished');
      this.opts.onSegment({ ...segment, codec: run.prepared.outputCodec });
    }
  }

  /** While the run's scans wait for a replaced run, notes when its segments get listed. */
  private noteListed(run: Run): void {
    if (!this.fallback.holds(run) && !this.adopted) return;
    const now = Date.now();
    void readFile(join(this.dir, playlistName(run.runId)), 'utf8')
      .then((text) => {
        for (const entry of parsePlaylist(text).entries)
          if (!run.listedAt.has(entry.uri)) run.listedAt.set(entry.uri, now);
      })
      .catch(() => {}); // not written yet
  }

  /**
   * ffmpeg stamps a run's segments from a clock read once, to the whole second, after its
   * input analysis, so its times can be a second off. A live segment is listed the moment its
   * last frame is in, so (time listed − stamped end) bounds the error from above; the smallest
   * value seen in the run is the correction, kept beside the playlist for later rescans.
   */
  private async correctClock(run: Run, segment: FinishedSegment): Promise<FinishedSegment> {
    if (this.stopping) return applyClockBias(segment, run.clockBiasMs ?? 0);
    const listed = run.listedAt.get(segment.name) ?? Date.now();
    run.listedAt.delete(segment.name);
    const skew = listed - (segment.startAt.getTime() + segment.durationMs);
    const before = run.clockBiasMs;
    run.clockBiasMs = before === null ? skew : Math.min(before, skew);
    if (before === null || before - run.clockBiasMs >= 20)
      await saveClockBias(this.dir, run.runId, run.clockBiasMs).catch((err) =>
        this.opts.logger.warn({ err }, 'recorder: clock correction not saved'),
      );
    return applyClockBias(segment, run.clockBiasMs);
  }

  private setState(state: CameraState, reason?: string): void {
    if (this.state === state && this.reason === reason) return;
    this.state = state;
    this.reason = state === 'recording' || state === 'starting' ? undefined : reason;
    this.opts.logger.info({ state, reason }, `camera ${state}`);
    this.opts.onState?.(state, reason);
  }
}
