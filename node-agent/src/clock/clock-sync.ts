/**
 * Measures the agent's clock against the master's: a burst of time requests over MQTT right
 * after each connect and then every minute, each answered at once by the master; the sample
 * with the shortest round trip gives the offset (clock-offset.ts), the host's own sync state
 * comes with it (host-sync.ts). `current()` is what heartbeats carry; a master that does not
 * answer (an older one) leaves it null and the heartbeat without `clock`. After a burst sent but
 * not answered at all the agent asks again only after a pause, a minute doubling up to an hour,
 * connect or not: an older master's embedded broker ends the connection of a node that
 * publishes on a topic it does not know, so asking at every reconnect would never let it stay.
 */
import { randomBytes } from 'node:crypto';
import type { ClockHeartbeat } from '@cctv/protocol';
import { topics, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import { bestOffset, type TimeSample } from './clock-offset.ts';
import { type HostSyncState, readHostSync, UNKNOWN_SYNC } from './host-sync.ts';

export interface ClockSyncOptions {
  nodeId: string;
  /** Publishes one request now, not queued (a late request is worthless); rejects while offline. */
  send: (topic: string, payload: string) => Promise<void>;
  logger: Logger;
  /** The host's own synchronisation state, read once per measurement. */
  hostSync?: () => Promise<HostSyncState>;
  /** The agent's wall clock in milliseconds: the clock being measured. */
  now?: () => number;
  /** Between measurements; default a minute. */
  intervalMs?: number;
  /** Requests per measurement, one after the other; default 5. */
  burst?: number;
  /** How long one request waits for its answer; default 2 s. */
  answerTimeoutMs?: number;
  /** Told of every measurement (the agent's gauge). */
  onMeasured?: (clock: ClockHeartbeat) => void;
  /** A monotonic clock in milliseconds, for the pauses (default `performance.now()`). */
  monotonic?: () => number;
}

/** The longest pause after unanswered bursts. */
const MAX_PAUSE_MS = 3_600_000;

interface Pending {
  id: string;
  t0: number;
  done: (sample: TimeSample | null) => void;
}

const tenth = (v: number) => Math.round(v * 10) / 10;

export class ClockSync {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending: Pending | null = null;
  private last: ClockHeartbeat | null = null;
  private stopped = false;
  private answered = false;
  /** Bursts in a row that were sent and got no answer at all; asking waits until `quietUntil`. */
  private unanswered = 0;
  private quietUntil = 0;
  private seq = 0;
  /** Answers to an earlier run's requests (same node, same topic) must not match this run's. */
  private readonly run = randomBytes(6).toString('hex');
  private readonly now: () => number;
  private readonly monotonic: () => number;

  constructor(private readonly opts: ClockSyncOptions) {
    this.now = opts.now ?? (() => Date.now());
    this.monotonic = opts.monotonic ?? (() => performance.now());
  }

  /** The latest measurement; null before the first. */
  current(): ClockHeartbeat | null {
    return this.last;
  }

  /** Measures every `intervalMs` from now on (the link asks for one at each connect). */
  start(): void {
    this.timer = setInterval(() => void this.measure(), this.opts.intervalMs ?? 60_000);
  }

  /**
   * Measures now, unless a measurement is running (then resolves with that one) or the pause
   * after unanswered bursts is not over.
   */
  measure(): Promise<void> {
    if (this.stopped || (!this.running && this.monotonic() < this.quietUntil)) return Promise.resolve();
    this.running ??= this.burst()
      .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'clock measurement failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** A clock answer from the link (`cmd/time`), taken at once: its arrival is t3. */
  receive(payload: Buffer): void {
    const t3 = this.now();
    const answer = validators.timeAnswer.parse(payload);
    if (!answer.ok) {
      this.opts.logger.warn({ error: answer.error }, 'clock answer refused: malformed');
      return;
    }
    const p = this.pending;
    // Late (its request timed out) or not ours: ignored. t0 is our own, not the echo.
    if (!p || answer.value.id !== p.id || answer.value.t0 !== p.t0) return;
    p.done({ t0: p.t0, t1: answer.value.t1, t2: answer.value.t2, t3 });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.pending?.done(null);
    await this.running;
  }

  private async burst(): Promise<void> {
    const samples: TimeSample[] = [];
    const count = this.opts.burst ?? 5;
    let sent = false;
    for (let i = 0; i < count && !this.stopped; i++) {
      const exchange = await this.exchange();
      sent ||= exchange.sent;
      if (exchange.sample) samples.push(exchange.sample);
      else if (samples.length === 0) break; // no answer at all: offline, or a master that does not answer
    }
    const best = bestOffset(samples);
    if (!best) {
      if (!sent) return; // the link is down: the next connect asks again
      this.unanswered++;
      const pauseMs = Math.min((this.opts.intervalMs ?? 60_000) * 2 ** (this.unanswered - 1), MAX_PAUSE_MS);
      this.quietUntil = this.monotonic() + pauseMs;
      // At warn once per change, not every time: an older master never answers.
      const level = this.answered ? 'warn' : 'debug';
      this.answered = false;
      this.opts.logger[level]({ pauseMs }, 'no answer to the clock request; the clock offset is not updated');
      return;
    }
    this.answered = true;
    this.unanswered = 0;
    this.quietUntil = 0;
    const sync = await (this.opts.hostSync ?? readHostSync)().catch(() => UNKNOWN_SYNC);
    this.last = {
      offsetMs: tenth(best.offsetMs),
      rttMs: tenth(best.rttMs),
      measuredAt: new Date(this.now()).toISOString(),
      synced: sync.synced,
      source: sync.source,
    };
    this.opts.onMeasured?.(this.last);
  }

  /** One request and its answer (null without one in time); `sent`: the link took the request. */
  private exchange(): Promise<{ sent: boolean; sample: TimeSample | null }> {
    const id = `${this.run}-${this.seq++}`;
    const t0 = this.now();
    const request = { id, t0 };
    const checked = validators.timeRequest.validate(request);
    if (!checked.ok) throw new Error(`BUG: clock request fails its schema: ${checked.error}`);
    let sent = false;
    return new Promise((resolve) => {
      const timeout = setTimeout(() => pending.done(null), this.opts.answerTimeoutMs ?? 2000);
      const pending: Pending = {
        id,
        t0,
        done: (sample) => {
          clearTimeout(timeout);
          if (this.pending === pending) this.pending = null;
          resolve({ sent, sample });
        },
      };
      this.pending = pending;
      this.opts.send(topics.time(this.opts.nodeId), JSON.stringify(request)).then(
        () => {
          sent = true;
        },
        (err: Error) => {
          this.opts.logger.debug({ err: err.message }, 'clock request not sent');
          pending.done(null);
        },
      );
    });
  }
}
