/**
 * One long-running child process under supervision: restarted with capped exponential
 * backoff when it exits unexpectedly, fails to start, or stalls (the owner stops calling
 * `alive()`); the last lines of stderr kept for the error log; a stop() that resolves only
 * once the process is really gone.
 *
 * Over 300 lines: start, restart, stall and stop are one state machine over one process; the
 * delays are backoff.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { redactCredentials } from '../logger.ts';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';

/** Why a run ended: it exited by itself, was ended as stalled, or could not be started. */
export type ExitCause = 'exit' | 'stall' | 'prepare-failed' | 'spawn-failed';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the process ended without stop() being called. */
  expected: boolean;
  cause: ExitCause;
  /** One line saying why, for camera state and logs. */
  detail: string;
  stderrTail: string[];
  /** Delay before the next start; null when it will not be restarted. */
  restartInMs: number | null;
  /** Unexpected ends in a row since the last resetBackoff(). */
  failures: number;
}

export interface RunSpec {
  command: string;
  args: string[];
  /** Overrides the quit key for this run (null: ask with SIGINT to the process group). */
  quitKey?: string | null;
  /**
   * The run sees to its own end should the agent die (recorder/keeper.ts): no parent-death
   * signal, so that it can outlive the agent.
   */
  outlivesAgent?: boolean;
}

/** Thrown by `prepare` when a run cannot start yet (camera unreachable); retried with backoff. */
export class PrepareError extends Error {
  readonly code = 'PREPARE_FAILED';
}

export interface SupervisedChildOptions {
  name: string;
  /**
   * Called before every spawn, so each run can get fresh arguments (a new run id, a new probe).
   * Throwing counts as a failed run: logged, reported through onExit, retried with backoff.
   */
  prepare: () => RunSpec | Promise<RunSpec>;
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  backoff?: BackoffPolicy;
  /**
   * How to ask the child to finish: `q` on stdin (ffmpeg's own quit key) or SIGINT to its
   * process group (for a shell pipeline). SIGINT follows after graceMs, SIGKILL at killAfterMs.
   */
  quitKey?: string;
  graceMs?: number;
  killAfterMs?: number;
  stderrLines?: number;
  /** Ends the run as stalled when `alive()` has not been called for this long (0 = never). */
  stallAfterMs?: number;
  onSpawn?: (pid: number | undefined) => void;
  onExit?: (exit: ChildExit) => void;
  onStderrLine?: (line: string) => void;
  /** When set, stdout is read line by line (e.g. ffmpeg `-progress pipe:1`). */
  onStdoutLine?: (line: string) => void;
  /**
   * Raw binary outputs instead: stdout (fd 1) and a second pipe on fd 3 (ffmpeg `pipe:3`),
   * each chunk as read. Not combined with onStdoutLine.
   */
  onOutput?: (fd: 1 | 3, chunk: Buffer) => void;
}

/**
 * util-linux `setpriv --pdeathsig`: the kernel sends the child SIGTERM when the agent dies,
 * even by SIGKILL, so no ffmpeg outlives its agent (SIGTERM lets it finish its segment).
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export class SupervisedChild {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  private lastAlive = 0;
  private stallDetail: string | null = null;
  private stopping = false;
  private preparing = false;
  private failures = 0;
  private tail: string[] = [];
  private runQuitKey: string | undefined;
  /** Children replaced by a fresh run: how to ask each to finish, what to call when it is gone. */
  private readonly retiring = new Map<ChildProcess, { onRetired: () => void; retire: () => void }>();
  private readonly retiringExits = new Set<Promise<void>>();
  /** Children left running by detach(): their exit is nobody's business here. */
  private readonly detached = new Set<ChildProcess>();
  private readonly opts: Required<
    Pick<SupervisedChildOptions, 'backoff' | 'graceMs' | 'killAfterMs' | 'stderrLines' | 'stallAfterMs'>
  > &
    SupervisedChildOptions;

  constructor(opts: SupervisedChildOptions) {
    this.opts = {
      backoff: { initialMs: 1000, maxMs: 30_000 },
      graceMs: 3000,
      killAfterMs: 10_000,
      stderrLines: 20,
      stallAfterMs: 0,
      ...opts,
    };
  }

  /** The live child's pid, or undefined between runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  stderrTail(): string[] {
    return [...this.tail];
  }

  /** Call when the child proved healthy (e.g. produced output) so the next failure restarts fast. */
  resetBackoff(): void {
    this.failures = 0;
  }

  /** Changes the restart delays from the next failure on (e.g. slower once a camera has failed). */
  setBackoff(policy: BackoffPolicy): void {
    this.opts.backoff = policy;
  }

  /** The child made progress; keeps the stall watchdog quiet. */
  alive(): void {
    this.lastAlive = Date.now();
  }

  /** Ends the current run as stalled (the owner's own watchdog decided); it is restarted. */
  endStalled(detail: string): void {
    const child = this.child;
    if (!child || this.stopping || this.stallDetail) return;
    this.stallDetail = detail;
    this.opts.logger.warn({ detail }, `${this.opts.name}: stalled, restarting`);
    this.signal(child, 'SIGTERM');
    setTimeout(() => this.signal(child, 'SIGKILL'), 3000).unref();
  }

  /**
   * Replaces the running child by a fresh run at once: no backoff, not counted as a failure.
   * The old one keeps running beside the new one until the returned `retire()` is called (the
   * owner's choice: when the new run has proved itself) and is then asked to finish as stop()
   * asks (ffmpeg closes its last segment), so the two overlap rather than leave a gap.
   * `onRetired` runs once the old one has exited. Null when no child runs (nothing replaced).
   */
  replace(detail: string, onRetired?: () => void): (() => void) | null {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited || this.stopping || this.stallDetail) return null;
    this.opts.logger.info({ detail, pid: child.pid }, `${this.opts.name}: replaced by a new run`);
    this.clearStallTimer();
    this.child = null;
    this.exited = null;
    const quitKey = this.runQuitKey;
    let asked = false;
    const retire = () => {
      if (asked) return;
      asked = true;
      void this.finishChild(child, exited, quitKey);
    };
    this.retiring.set(child, { onRetired: onRetired ?? (() => {}), retire });
    this.retiringExits.add(exited);
    void exited.then(() => this.retiringExits.delete(exited));
    void this.runOnce();
    return retire;
  }

  start(): void {
    this.stopping = false;
    if (this.child || this.restartTimer || this.preparing) return;
    void this.runOnce();
  }

  private async runOnce(): Promise<void> {
    this.restartTimer = null;
    this.preparing = true;
    let spec: RunSpec;
    try {
      spec = await this.opts.prepare();
    } catch (err) {
      this.preparing = false;
      if (this.stopping) return;
      const detail = (err as Error).message.split('\n')[0] ?? 'prepare failed';
      this.finishRun(null, null, 'prepare-failed', detail);
      return;
    } finally {
      this.preparing = false;
    }
    if (this.stopping) return;
    this.spawnRun(spec);
  }

  private spawnRun(spec: RunSpec): void {
    const log = this.opts.logger;
    log.debug(
      { command: spec.command, args: spec.args.map(redactCredentials) },
      `${this.opts.name}: starting`,
    );
    this.tail = [];
    this.stallDetail = null;
    this.runQuitKey = spec.quitKey === undefined ? this.opts.quitKey : (spec.quitKey ?? undefined);
    const [command, args] =
      SETPRIV && !spec.outlivesAgent
        ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', spec.command, ...spec.args]]
        : [spec.command, spec.args];
    const child = spawn(command, args, {
      env: this.opts.env ?? process.env,
      stdio: this.opts.onOutput
        ? ['pipe', 'pipe', 'pipe', 'pipe']
        : ['pipe', this.opts.onStdoutLine ? 'pipe' : 'ignore', 'pipe'],
      // Own process group: a Ctrl-C in the agent's terminal must not reach the child directly;
      // stop() ends it in order (ffmpeg finishes its segment) and nothing counts it as a crash.
      detached: true,
    });
    this.child = child;
    // A replaced child still finishing says nothing more about the run that follows it.
    const current = () => this.child === child;
    this.readLines(child.stderr, (line) => current() && this.keepLine(line));
    const onStdout = this.opts.onStdoutLine;
    if (onStdout) this.readLines(child.stdout, (line) => current() && onStdout(line));
    const onOutput = this.opts.onOutput;
    if (onOutput) {
      child.stdout?.on('data', (chunk: Buffer) => onOutput(1, chunk));
      (child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (chunk: Buffer) => onOutput(3, chunk));
    }
    child.stdin?.on('error', () => {}); // EPIPE when the child is already gone
    let settle: () => void = () => {};
    this.exited = new Promise((resolve) => {
      settle = resolve;
    });
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      if (this.detached.delete(child)) {
        settle();
        return;
      }
      const retired = this.retiring.get(child);
      if (retired) {
        this.retiring.delete(child);
        settle();
        retired.onRetired();
        return;
      }
      this.clearStallTimer();
      if (error) this.keepLine(`spawn failed: ${error.message}`);
      this.child = null;
      const cause: ExitCause = error ? 'spawn-failed' : this.stallDetail ? 'stall' : 'exit';
      const detail =
        this.stallDetail ??
        (error ? `spawn failed: ${error.message}` : (this.tail.at(-1) ?? `exit code ${code ?? signal}`));
      this.finishRun(code, signal, cause, detail);
      settle();
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('close', (code, signal) => finish(code, signal));
    this.lastAlive = Date.now();
    if (this.opts.stallAfterMs > 0) {
      const every = Math.max(50, Math.min(1000, this.opts.stallAfterMs / 4));
      this.stallTimer = setInterval(() => {
        const idle = Date.now() - this.lastAlive;
        if (idle >= this.opts.stallAfterMs)
          this.endStalled(`stalled: no progress for ${Math.round(idle / 1000)} s`);
      }, every);
    }
    this.opts.onSpawn?.(child.pid);
  }

  private readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    });
    stream.on('end', () => {
      if (partial.trim()) onLine(partial);
      partial = '';
    });
  }

  private clearStallTimer(): void {
    if (this.stallTimer) clearInterval(this.stallTimer);
    this.stallTimer = null;
  }

  private keepLine(raw: string): void {
    // ffmpeg names its input in errors: a camera URL's password never reaches a reason or a log.
    const line = redactCredentials(raw);
    this.tail.push(line);
    if (this.tail.length > this.opts.stderrLines) this.tail.shift();
    this.opts.onStderrLine?.(line);
  }

  private finishRun(
    code: number | null,
    signal: NodeJS.Signals | null,
    cause: ExitCause,
    detail: string,
  ): void {
    const expected = this.stopping;
    let restartInMs: number | null = null;
    if (!expected) {
      restartInMs = backoffDelay(this.opts.backoff, this.failures);
      this.failures++;
      const level = cause === 'prepare-failed' && this.failures > 1 ? 'warn' : 'error';
      this.opts.logger[level](
        { code, signal, cause, detail, stderr: this.tail, restartInMs, failures: this.failures },
        `${this.opts.name}: ${cause === 'prepare-failed' ? 'cannot start' : 'ended unexpectedly'}`,
      );
      this.restartTimer = setTimeout(() => void this.runOnce(), restartInMs);
    }
    this.opts.onExit?.({
      code,
      signal,
      expected,
      cause,
      detail: redactCredentials(detail).slice(0, 300),
      stderrTail: this.stderrTail(),
      restartInMs,
      failures: this.failures,
    });
  }

  private signal(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try {
      process.kill(-child.pid, signal); // the whole group: a pipeline's every member
    } catch {
      child.kill(signal);
    }
  }

  /**
   * Leaves the running child to itself (a run that outlives the agent): no restart, no signal,
   * its exit no longer reported; its stdin is closed, which is how it learns that no agent
   * holds it any more. Returns its pid, or undefined when none runs (or a replaced one still
   * finishes: nothing is left running then, the caller stops instead).
   */
  detach(): number | undefined {
    const child = this.child;
    if (!child?.pid || this.retiring.size > 0 || this.stallDetail) return undefined;
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.clearStallTimer();
    this.detached.add(child);
    this.child = null;
    this.exited = null;
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.unref();
    return child.pid;
  }

  /** Asks the child to finish (quit key, then SIGINT, then SIGKILL); resolves when it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    const child = this.child;
    const exited = this.exited;
    const retiring = [...this.retiringExits];
    for (const r of this.retiring.values()) r.retire();
    if (child && exited) await this.finishChild(child, exited, this.runQuitKey);
    await Promise.all(retiring);
  }

  /** Quit key (or SIGINT), SIGINT after graceMs, SIGKILL at killAfterMs; resolves on exit. */
  private async finishChild(child: ChildProcess, exited: Promise<void>, quitKey: string | undefined) {
    if (quitKey && child.stdin?.writable) child.stdin.write(quitKey);
    else this.signal(child, 'SIGINT');
    const grace = setTimeout(() => this.signal(child, 'SIGINT'), this.opts.graceMs);
    const kill = setTimeout(() => {
      this.opts.logger.warn(`${this.opts.name}: did not stop in time, killing`);
      this.signal(child, 'SIGKILL');
    }, this.opts.killAfterMs);
    try {
      await exited;
    } finally {
      clearTimeout(grace);
      clearTimeout(kill);
    }
  }
}
