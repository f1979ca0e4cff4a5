/**
 * A server's listening, for a port that may not be free (in use, not allowed, unknown host):
 * the first attempt's outcome is reported at once, and further attempts retry in the background
 * with backoff until one listens or `close()` is called. Failures are logged once when they
 * begin and at most once per interval after that.
 */
import type { Server } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, realSleep, type Sleep } from '../process/backoff.ts';

/** Listening on `port`, or not (yet, or any more) with the reason, e.g. "port 8091 in use". */
export type ListenStatus = { listening: true; port: number } | { listening: false; reason: string };

export interface RetryingListenerOptions {
  server: Server | TlsServer;
  host: string;
  /** 0 = any free port. */
  port: number;
  /** What the log calls the server, e.g. "jsmpeg live server". */
  name: string;
  /** For the log line once listening. */
  tls: boolean;
  logger: Logger;
  now: () => number;
  /** Delays between attempts (default 1 s doubling to 60 s). */
  backoff?: BackoffPolicy | undefined;
  sleep?: Sleep | undefined;
  /** Failed attempts after the first are logged at most this often (default 60 s). */
  failureLogEveryMs?: number | undefined;
  /** The outcome of the first attempt, then every change between listening and not. */
  onStatus?: ((status: ListenStatus) => void) | undefined;
  /** Every failed attempt, with its error code (EADDRINUSE, EACCES, ENOTFOUND, …). */
  onListenFailed?: ((code: string) => void) | undefined;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000 };

export class RetryingListener {
  private current: ListenStatus = { listening: false, reason: 'starting' };
  private started = false;
  private closing = false;
  /** The attempt in flight: close() waits for it, so no listener outlives the server. */
  private attempt: Promise<boolean> | null = null;
  private retrying: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private failureCount = 0;
  private unavailableSince = 0;
  private failureLoggedAt = 0;

  constructor(private readonly opts: RetryingListenerOptions) {}

  /** Resolves with the first attempt's outcome; never rejects for a listen failure. */
  async start(): Promise<ListenStatus> {
    if (this.started) return this.status();
    this.started = true;
    if (!(await this.tryListen())) this.retrying = this.retry();
    return this.status();
  }

  status(): ListenStatus {
    return this.current;
  }

  /** Failed attempts since the server last listened. */
  get failures(): number {
    return this.failureCount;
  }

  /** Stops retrying and lets an attempt in flight settle (it may still bind the port). */
  async close(): Promise<void> {
    this.closing = true;
    this.abort.abort();
    await this.attempt;
    await this.retrying;
  }

  /** Once the server is closed. */
  stopped(): void {
    this.current = { listening: false, reason: 'stopped' };
  }

  private async retry(): Promise<void> {
    const sleep = this.opts.sleep ?? realSleep;
    const policy = this.opts.backoff ?? DEFAULT_BACKOFF;
    for (let n = 0; !this.closing; n++) {
      if (!(await sleep(backoffDelay(policy, n), this.abort.signal))) return;
      if (this.closing || (await this.tryListen())) return;
    }
  }

  /** One listen attempt; true once listening. */
  private tryListen(): Promise<boolean> {
    const { server } = this.opts;
    const attempt = new Promise<boolean>((resolve) => {
      const failed = (err: NodeJS.ErrnoException) => {
        this.listenFailed(err);
        resolve(false);
      };
      server.once('error', failed);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', failed);
        this.listening();
        resolve(true);
      });
    });
    this.attempt = attempt;
    void attempt.finally(() => {
      if (this.attempt === attempt) this.attempt = null;
    });
    return attempt;
  }

  private listening(): void {
    const { port } = this.opts.server.address() as AddressInfo;
    const where = { host: this.opts.host, port, tls: this.opts.tls };
    if (this.failureCount === 0) this.opts.logger.info(where, `${this.opts.name} listening`);
    else
      this.opts.logger.info(
        {
          ...where,
          failedAttempts: this.failureCount,
          unavailableMs: this.opts.now() - this.unavailableSince,
        },
        `${this.opts.name} listening: live view available again`,
      );
    this.failureCount = 0;
    this.setStatus({ listening: true, port });
  }

  private listenFailed(err: NodeJS.ErrnoException): void {
    const { name, host, port, logger: log } = this.opts;
    const code = err.code ?? 'UNKNOWN';
    const reason = listenProblem(err, host, port);
    const now = this.opts.now();
    this.failureCount++;
    this.opts.onListenFailed?.(code);
    const fields = { host, port, code, reason, failedAttempts: this.failureCount };
    // The first failure is news; the retries after it are not, so they are logged at most
    // once per interval, however short the backoff.
    if (this.failureCount === 1) {
      this.unavailableSince = now;
      this.failureLoggedAt = now;
      log.warn(fields, `${name} cannot listen: live view unavailable, recording goes on`);
    } else if (now - this.failureLoggedAt >= (this.opts.failureLogEveryMs ?? 60_000)) {
      this.failureLoggedAt = now;
      log.warn(fields, `${name} still cannot listen: live view unavailable`);
    } else log.debug(fields, `${name} listen retry failed`);
    if (this.failureCount === 1 || this.current.listening || this.current.reason !== reason)
      this.setStatus({ listening: false, reason });
  }

  private setStatus(status: ListenStatus): void {
    this.current = status;
    this.opts.onStatus?.(status);
  }
}

/** Why a listen failed, in words an operator acts on. */
function listenProblem(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} in use`;
    case 'EACCES':
      return `no permission to listen on port ${port}`;
    case 'EADDRNOTAVAIL':
      return `address ${host} is not on this host`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${host} not found`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}
