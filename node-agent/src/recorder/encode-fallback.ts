/**
 * The recorder's side of the codec fallback: feeds a run's encode watch (progress, CPU), and on
 * its verdict has the planner drop the encode and the supervisor replace the run at once. The
 * replaced run goes on beside the new one until the new one has two segments' worth of output
 * (or, should it get none, four segments' time), then closes its last one: it records while
 * the new one connects and waits for a keyframe, and works off part of what is queued in it
 * (at its speed, about half a second for each second it goes on), so what is lost is less
 * than what the slow encoder was behind. Logged once: later runs copy.
 */
import type { Logger } from 'pino';
import type { SupervisedChild } from '../process/supervised-child.ts';
import type { CameraPlanner } from './camera-plan.ts';
import type { EncodeWatch } from './encode-watch.ts';
import { runCpu } from './ffmpeg-cpu.ts';

/** What the fallback needs of a recorder's run. */
export interface WatchedRun {
  watch: EncodeWatch | null;
}

export interface EncodeFallbackOptions<R extends WatchedRun> {
  child: SupervisedChild;
  planner: CameraPlanner;
  logger: Logger;
  segmentSeconds: number;
  /** The run being recorded now (null between runs). */
  current: () => R | null;
  /** Reports the replaced run's last segments once it has exited. */
  finalScan: (run: R) => Promise<void>;
}

export class EncodeFallback<R extends WatchedRun> {
  /** Ends the replaced run, still encoding beside the new one. */
  private retireOld: (() => void) | null = null;
  /**
   * Until the replaced run has exited and its last segments are reported, the new run's wait:
   * segments go upward in recording order (the uploader takes a name before its last as done).
   */
  private replaced: { run: R; done: Promise<void> } | null = null;

  constructor(private readonly o: EncodeFallbackOptions<R>) {}

  /** A progress block of the current run: `outS` is its output time so far. */
  progress(outS: number): void {
    // The new run has two segments in: the replaced one can close its last.
    if (this.retireOld && outS >= 2 * this.o.segmentSeconds) this.retire();
    const run = this.o.current();
    if (!run?.watch || !this.o.child.running) return;
    run.watch.progress(Date.now(), outS);
    this.judge(run);
  }

  /** Samples the current run's CPU (the recorder's poll). */
  sampleCpu(): void {
    const run = this.o.current();
    const pid = this.o.child.pid;
    if (!run?.watch || pid === undefined) return;
    void runCpu(pid).then((t) => {
      if (t === null || this.o.current() !== run || this.o.child.pid !== pid) return;
      run.watch?.cpu(Date.now(), t.cpuS, t.waitS);
      this.judge(run);
    });
  }

  /** Resolves once the scans of `run` may report: after the replaced run's last segments. */
  async before(run: R): Promise<void> {
    const replaced = this.replaced;
    if (replaced && replaced.run !== run) await replaced.done;
  }

  /** True while `run`'s scans wait for a replaced run's last segments. */
  holds(run: R): boolean {
    return this.replaced !== null && this.replaced.run !== run;
  }

  /** Stopping: the replaced run ends too; resolves once its last segments are reported. */
  async stop(): Promise<void> {
    this.retire();
    await this.replaced?.done;
  }

  private judge(run: R): void {
    const verdict = run.watch?.verdict();
    if (!verdict || this.o.current() !== run) return;
    run.watch = null;
    const figures = {
      cause: verdict.cause,
      speed: Math.round(verdict.speed * 100) / 100,
      lagS: Math.round(verdict.lagS * 10) / 10,
      spanS: Math.round(verdict.spanS),
      cpuPercent: verdict.cpuPercent === null ? null : Math.round(verdict.cpuPercent),
    };
    const log = this.o.logger;
    if (!this.o.planner.encodeOverloaded?.(verdict.text)) {
      log.warn(figures, `recorder: ${verdict.text}; the source cannot be stored as sent, still encoding`);
      return;
    }
    log.warn(figures, `recorder: ${verdict.text}; storing the camera's own codec from now on`);
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const retire = this.o.child.replace(verdict.text, () => {
      void this.o
        .finalScan(run)
        .catch((err) => log.error({ err }, 'recorder: playlist scan failed'))
        .finally(() => {
          this.replaced = null;
          finished();
        });
    });
    if (!retire) return;
    this.replaced = { run, done };
    const timer = setTimeout(() => this.retire(), 4 * this.o.segmentSeconds * 1000 + 2000);
    this.retireOld = () => {
      clearTimeout(timer);
      retire();
    };
  }

  private retire(): void {
    const retire = this.retireOld;
    this.retireOld = null;
    retire?.();
  }
}
