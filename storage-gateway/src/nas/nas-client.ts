import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { NAS_FAILURE_REASONS, NasError, type NasFailureReason, nasReason } from './nas-errors.ts';
import type { CopyResult, NasOpsConfig, NasRequest, NasUsage } from './nas-ops.ts';

// Beside this module: nas-worker.ts in the sources, nas-worker.mjs in a release's bundle.
const WORKER = fileURLToPath(
  new URL(import.meta.url.endsWith('.mjs') ? './nas-worker.mjs' : './nas-worker.ts', import.meta.url),
);

interface Pending {
  op: NasRequest['op'];
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A copy waiting this many timeouts is hung even while other copies finish (one stuck file
 * among healthy ones).
 */
const MAX_WAIT_TIMEOUTS = 4;

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  reason?: NasFailureReason;
  code?: string;
  message?: string;
}

export interface NasClientOptions extends NasOpsConfig {
  /** A request without an answer after this long counts as a hung NAS. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * Talks to the NAS worker process. A request that does not answer within the timeout fails as
 * `hung`; the worker is then killed, and the next request waits for it to be gone before a
 * new one starts, so a dead share holds at most one stuck process and never a gateway thread.
 */
export class NasClient {
  private worker: ChildProcess | null = null;
  private ready: Promise<ChildProcess> | null = null;
  /** The killed worker until it has really exited (a process stuck in the kernel takes a while). */
  private abandoned: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** When a copy last finished (or the worker became ready): a busy worker is not a hung one. */
  private lastCopyAt = 0;

  constructor(private readonly opts: NasClientOptions) {}

  copy(src: string, camera: string, name: string, sha256: string): Promise<CopyResult> {
    return this.request({ op: 'copy', src, camera, name, sha256 }) as Promise<CopyResult>;
  }

  remove(camera: string, name: string): Promise<void> {
    return this.request({ op: 'remove', camera, name }) as Promise<void>;
  }

  usage(): Promise<NasUsage> {
    return this.request({ op: 'usage' }) as Promise<NasUsage>;
  }

  list(camera: string): Promise<string[]> {
    return this.request({ op: 'list', camera }) as Promise<string[]>;
  }

  cameras(): Promise<string[]> {
    return this.request({ op: 'cameras' }) as Promise<string[]>;
  }

  digest(camera: string, name: string): Promise<{ sha256: string; bytes: number } | null> {
    return this.request({ op: 'digest', camera, name }) as Promise<{ sha256: string; bytes: number } | null>;
  }

  cleanTemp(camera: string, olderThanMs: number): Promise<number> {
    return this.request({ op: 'cleanTemp', camera, olderThanMs }) as Promise<number>;
  }

  probe(): Promise<void> {
    return this.request({ op: 'probe' }) as Promise<void>;
  }

  /** Stops the worker; requests in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.failAll(new NasError('unreachable', 'the NAS client is closed'));
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.disconnect?.();
      const timer = setTimeout(() => worker.kill('SIGKILL'), 2_000);
      // A worker stuck on a frozen share exits only when the share lets go; do not wait for it.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000).unref())]);
      clearTimeout(timer);
    }
    this.worker = null;
    this.ready = null;
  }

  private async request(req: NasRequest): Promise<unknown> {
    if (this.closed) throw new NasError('unreachable', 'the NAS client is closed');
    const deadline = Date.now() + this.opts.timeoutMs;
    if (this.abandoned) {
      // The last worker is stuck: until it is gone, the NAS is still hung.
      const gone = await Promise.race([
        this.abandoned.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), this.opts.timeoutMs).unref()),
      ]);
      if (!gone) throw new NasError('hung', 'the NAS writer is still stuck in a previous operation');
    }
    const worker = await this.start();
    const id = this.nextId++;
    const sentAt = Date.now();
    const { timeoutMs } = this.opts;
    return new Promise((resolve, reject) => {
      // Hung means no progress. A copy is hung once no copy has finished for a whole timeout:
      // a worker busy with many moves at once (GATEWAY_NAS_PARALLEL) keeps finishing them, and a
      // copy queued behind the others is not hung for waiting its turn (up to MAX_WAIT_TIMEOUTS).
      // Other operations get the plain timeout.
      const check = () => {
        const now = Date.now();
        const quietFor = now - Math.max(this.lastCopyAt, sentAt);
        if (req.op === 'copy' && quietFor < timeoutMs && now - sentAt < MAX_WAIT_TIMEOUTS * timeoutMs) {
          const p = this.pending.get(id);
          if (p) p.timer = setTimeout(check, timeoutMs - quietFor);
          return;
        }
        this.pending.delete(id);
        reject(new NasError('hung', `NAS ${req.op} had no answer within ${now - sentAt} ms`));
        this.abandon(worker);
      };
      const timer = setTimeout(check, Math.max(1, deadline - Date.now()));
      this.pending.set(id, { op: req.op, resolve, reject, timer });
      worker.send({ id, req }, (err) => {
        if (!err) return;
        clearTimeout(this.pending.get(id)?.timer);
        this.pending.delete(id);
        reject(new NasError('write_error', `NAS worker unreachable: ${err.message}`));
      });
    });
  }

  private start(): Promise<ChildProcess> {
    if (this.ready) return this.ready;
    const config: NasOpsConfig = { nasDir: this.opts.nasDir, requireMount: this.opts.requireMount };
    const worker = fork(WORKER, [JSON.stringify(config)], {
      execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect') && !a.startsWith('--test')),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.worker = worker;
    this.ready = new Promise<ChildProcess>((resolve, reject) => {
      const onReady = (msg: { ready?: boolean }) => {
        if (!msg.ready) return;
        this.lastCopyAt = Date.now();
        worker.off('message', onReady);
        resolve(worker);
      };
      worker.on('message', onReady);
      worker.once('error', reject);
      worker.once('exit', (code, signal) =>
        reject(new NasError('write_error', `NAS worker exited before it was ready (${code ?? signal})`)),
      );
    });
    worker.on('message', (msg: Reply) => this.onReply(msg));
    worker.on('exit', (code, signal) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.ready = null;
      if (!this.closed)
        this.opts.logger.warn({ code, signal }, 'NAS worker exited; the next NAS operation starts another');
      this.failAll(new NasError('write_error', `NAS worker exited (${code ?? signal})`));
    });
    // Not a reason to keep the gateway alive on its own.
    worker.unref();
    worker.channel?.unref?.();
    return this.ready;
  }

  private onReply(msg: Reply): void {
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return; // answered after its timeout: the caller has moved on
    if (p.op === 'copy') this.lastCopyAt = Date.now();
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) {
      p.resolve(msg.value);
      return;
    }
    const err = Object.assign(new Error(msg.message ?? 'NAS operation failed'), { code: msg.code });
    const reason =
      msg.reason && (NAS_FAILURE_REASONS as readonly string[]).includes(msg.reason)
        ? msg.reason
        : nasReason(err);
    p.reject(Object.assign(new NasError(reason, err.message), { code: msg.code }));
  }

  private abandon(worker: ChildProcess): void {
    if (this.worker !== worker) return;
    this.opts.logger.error({ pid: worker.pid }, 'NAS operation hung: abandoning the NAS worker');
    this.worker = null;
    this.ready = null;
    this.abandoned = new Promise<void>((resolve) => {
      if (worker.exitCode !== null || worker.signalCode !== null) return resolve();
      worker.once('exit', () => resolve());
    }).then(() => {
      this.abandoned = null;
    });
    worker.kill('SIGKILL');
    this.failAll(new NasError('hung', 'the NAS worker was abandoned after a hung operation'));
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
