/**
 * One long-running child process under supervision: restarted with capped exponential
 * backoff when it exits unexpectedly, the last lines of stderr kept for the error log,
 * and a stop() that resolves only once the process is really gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when the process ended without stop() being called. */
  expected: boolean;
  stderrTail: string[];
  /** Delay before the next start; null when it will not be restarted. */
  restartInMs: number | null;
  /** Unexpected exits in a row since the last resetBackoff(). */
  failures: number;
}

export interface SupervisedChildOptions {
  name: string;
  command: string;
  /** Called before every spawn, so each run can get fresh arguments (a new run id). */
  args: () => string[];
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** `q` on stdin (ffmpeg's own quit key), then SIGINT after graceMs, then SIGKILL at killAfterMs. */
  quitKey?: string;
  graceMs?: number;
  killAfterMs?: number;
  stderrLines?: number;
  onSpawn?: (pid: number | undefined) => void;
  onExit?: (exit: ChildExit) => void;
  onStderrLine?: (line: string) => void;
}

export class SupervisedChild {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private failures = 0;
  private tail: string[] = [];
  private readonly opts: Required<
    Pick<SupervisedChildOptions, 'backoff' | 'graceMs' | 'killAfterMs' | 'stderrLines'>
  > &
    SupervisedChildOptions;

  constructor(opts: SupervisedChildOptions) {
    this.opts = {
      backoff: { initialMs: 1000, maxMs: 30_000 },
      graceMs: 3000,
      killAfterMs: 10_000,
      stderrLines: 20,
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

  start(): void {
    this.stopping = false;
    if (this.child || this.restartTimer) return;
    this.spawnOnce();
  }

  private spawnOnce(): void {
    this.restartTimer = null;
    const args = this.opts.args();
    const log = this.opts.logger;
    log.debug({ command: this.opts.command, args }, `${this.opts.name}: starting`);
    this.tail = [];
    const child = spawn(this.opts.command, args, {
      env: this.opts.env ?? process.env,
      stdio: ['pipe', 'ignore', 'pipe'],
      // Own process group: a Ctrl-C in the agent's terminal must not reach the child directly;
      // stop() ends it in order (ffmpeg finishes its segment) and nothing counts it as a crash.
      detached: true,
    });
    this.child = child;
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.keepLine(line);
    });
    child.stdin?.on('error', () => {}); // EPIPE when the child is already gone
    let settle: () => void = () => {};
    this.exited = new Promise((resolve) => {
      settle = resolve;
    });
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      if (partial.trim()) this.keepLine(partial);
      if (error) this.keepLine(`spawn failed: ${error.message}`);
      this.child = null;
      this.onExit(code, signal);
      settle();
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('close', (code, signal) => finish(code, signal));
    this.opts.onSpawn?.(child.pid);
  }

  private keepLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > this.opts.stderrLines) this.tail.shift();
    this.opts.onStderrLine?.(line);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const expected = this.stopping;
    let restartInMs: number | null = null;
    if (!expected) {
      restartInMs = backoffDelay(this.opts.backoff, this.failures);
      this.failures++;
      this.opts.logger.error(
        { code, signal, stderr: this.tail, restartInMs, failures: this.failures },
        `${this.opts.name}: exited unexpectedly`,
      );
      this.restartTimer = setTimeout(() => this.spawnOnce(), restartInMs);
    }
    this.opts.onExit?.({
      code,
      signal,
      expected,
      stderrTail: this.stderrTail(),
      restartInMs,
      failures: this.failures,
    });
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
    if (!child || !exited) return;
    if (this.opts.quitKey && child.stdin?.writable) child.stdin.write(this.opts.quitKey);
    else child.kill('SIGINT');
    const grace = setTimeout(() => child.kill('SIGINT'), this.opts.graceMs);
    const kill = setTimeout(() => {
      this.opts.logger.warn(`${this.opts.name}: did not stop in time, killing`);
      child.kill('SIGKILL');
    }, this.opts.killAfterMs);
    try {
      await exited;
    } finally {
      clearTimeout(grace);
      clearTimeout(kill);
    }
  }
}
