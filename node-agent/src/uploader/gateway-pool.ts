/**
 * The gateways an agent may upload to, in order of preference (`gateway.url`, then
 * `gateway.fallbackUrls`), shared by every camera queue and the snapshot store. A gateway that
 * refuses service (5xx, 408, 429, no connection, a timeout) is marked down and the next one is
 * used at once; after a cool-down a down gateway is tried again by one request (the others keep
 * to the gateway that works, so a hung gateway holds up one upload per cool-down, not all), and
 * the preference order is back once it answers. Only when every gateway is down do the callers
 * back off.
 */
import type { Logger } from 'pino';
import type { PutFile, PutResult } from './put-file.ts';

export interface GatewayPoolOptions {
  /** Base URLs, most preferred first; at least one. */
  urls: string[];
  /** How long a gateway marked down is left alone before one request tries it again. */
  coolDownMs: number;
  logger: Logger;
  /** Wall-clock ms; injected by tests. */
  now?: () => number;
  /** A trial request that has not reported back within this long is taken as lost. */
  trialTimeoutMs?: number;
  /** The gateway in use changed: `failover` away from a refusing one, `return` to a preferred one. */
  onSwitch?: (from: string, to: string, why: 'failover' | 'return') => void;
}

interface GatewayHealth {
  url: string;
  /** 0 while believed healthy; else the time until which it is left alone. */
  downUntil: number;
  /** When a request was handed out to try it again after its cool-down; 0 when none is out. */
  trialSince: number;
}

/** Statuses that say the gateway cannot take uploads now (not that the content is wrong). */
export function isGatewayRefusal(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** A request the gateway never answered: connection refused or reset, a timeout, TLS refused. */
export class GatewayUnreachable extends Error {
  readonly code = 'GATEWAY_UNREACHABLE';
}

/** Errors of reading the file being sent, which say nothing of the gateway. */
const FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EIO']);

/** `put`, with a failure to reach the gateway thrown as GatewayUnreachable. */
export async function putToGateway(put: PutFile, ...args: Parameters<PutFile>): Promise<PutResult> {
  try {
    return await put(...args);
  } catch (err) {
    if (FILE_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    throw new GatewayUnreachable((err as Error).message, { cause: err });
  }
}

export class GatewayPool {
  private readonly gateways: GatewayHealth[];
  private readonly now: () => number;
  private readonly trialTimeoutMs: number;
  /** The gateway uploads go to, as last logged. */
  private active: string;
  private allDownLogged = false;

  constructor(private readonly opts: GatewayPoolOptions) {
    if (opts.urls.length === 0) throw new Error('gateway pool: no gateway URL');
    this.gateways = opts.urls.map((url) => ({ url, downUntil: 0, trialSince: 0 }));
    this.now = opts.now ?? Date.now;
    this.trialTimeoutMs = opts.trialTimeoutMs ?? 120_000;
    this.active = opts.urls[0] as string;
  }

  /** Every gateway URL, most preferred first. */
  get urls(): readonly string[] {
    return this.opts.urls;
  }

  /** The gateway uploads go to now (for logs and tests). */
  get current(): string {
    return this.active;
  }

  /**
   * The gateway for the next request: the first healthy one in order. A gateway whose cool-down
   * is over is handed to one request at a time until it answers. With every gateway down, the
   * one left alone longest (the caller backs off before asking).
   */
  pick(): string {
    const now = this.now();
    for (const g of this.gateways) {
      if (!this.available(g, now)) continue;
      if (g.downUntil !== 0) g.trialSince = now;
      return g.url;
    }
    let soonest = this.gateways[0] as GatewayHealth;
    for (const g of this.gateways) if (g.downUntil < soonest.downUntil) soonest = g;
    return soonest.url;
  }

  /** The gateway answered (any status but a refusal of service): it is up. */
  succeeded(url: string): void {
    const g = this.find(url);
    if (!g) return;
    // While another gateway works, an answer from one in its cool-down (to a request sent before
    // it was marked down) does not bring it back: only a trial after the cool-down does, so a
    // gateway that refuses some uploads and takes others does not flap.
    const now = this.now();
    if (g.downUntil > now && this.gateways.some((h) => h !== g && this.available(h, now))) return;
    g.downUntil = 0;
    g.trialSince = 0;
    this.allDownLogged = false;
    const preferred = this.gateways.find((h) => h.downUntil === 0)?.url ?? url;
    this.switchTo(preferred, null);
  }

  /**
   * The gateway refused service or could not be reached: it is left alone for the cool-down
   * (longer when it asked, with `Retry-After`). True when another gateway is believed healthy,
   * so the caller retries there at once instead of backing off.
   */
  failed(url: string, reason: string, retryAfterMs = 0): boolean {
    const g = this.find(url);
    if (!g) return false;
    const now = this.now();
    g.downUntil = Math.max(g.downUntil, now + Math.max(this.opts.coolDownMs, retryAfterMs));
    g.trialSince = 0;
    if (this.gateways.some((h) => this.available(h, now))) {
      // The switch is to a gateway believed healthy; one only due for a trial is switched to
      // once it answers (succeeded()).
      const healthy = this.gateways.find((h) => h.downUntil === 0);
      if (url === this.active && healthy) this.switchTo(healthy.url, reason);
      return true;
    }
    if (!this.allDownLogged) {
      this.allDownLogged = true;
      this.opts.logger.warn(
        { gateways: this.opts.urls, reason },
        'every gateway refuses uploads: retrying with backoff',
      );
    }
    return false;
  }

  private switchTo(url: string, reason: string | null): void {
    const from = this.active;
    if (url === from) return;
    this.active = url;
    const why = this.opts.urls.indexOf(url) < this.opts.urls.indexOf(from) ? 'return' : 'failover';
    this.opts.logger.warn(
      { from, to: url, ...(reason ? { reason } : {}) },
      why === 'failover'
        ? 'gateway failover: uploading to the next gateway'
        : 'gateway back: uploading to it again',
    );
    this.opts.onSwitch?.(from, url, why);
  }

  /** Healthy, or past its cool-down with no trial request out. */
  private available(g: GatewayHealth, now: number): boolean {
    if (g.downUntil === 0) return true;
    return g.downUntil <= now && (g.trialSince === 0 || now - g.trialSince > this.trialTimeoutMs);
  }

  private find(url: string): GatewayHealth | undefined {
    return this.gateways.find((g) => g.url === url);
  }
}
