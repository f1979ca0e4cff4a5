/**
 * A durable FIFO of QoS 1 publishes: `append()` resolves once the message is on disk, and a
 * sender loop publishes the entries strictly in order, one at a time, while the client is
 * connected, deleting each file only after its PUBACK. What is left when the agent stops is
 * replayed, in order, by the next Outbox on the same directory (one live Outbox per directory).
 * Delivery is at least once: a crash between the ack and the delete sends that message again.
 *
 * Over 300 lines: appending and the sender loop share one queue, its caps and its stop; the
 * files on disk are outbox-files.ts.
 */
import type { Logger } from 'pino';
import { encodeEntry, type OutboxEntry, OutboxFiles, type OutboxMessage } from './outbox-files.ts';

export type { OutboxMessage } from './outbox-files.ts';

/** What the outbox needs of an MQTT client; an mqtt.js `MqttClient` fits. */
export interface OutboxClient {
  readonly connected: boolean;
  publishAsync(topic: string, payload: string, opts: { qos: 1; retain: boolean }): Promise<unknown>;
  on(event: 'connect', listener: () => void): unknown;
  removeListener(event: 'connect', listener: () => void): unknown;
}

export interface OutboxOptions {
  dir: string;
  client: OutboxClient;
  logger: Logger;
  /** Most entries kept; at the cap the oldest are dropped. Default 10,000. */
  maxMessages?: number;
  /** Most bytes kept on disk; at the cap the oldest are dropped. Default 50 MiB. */
  maxBytes?: number;
  /** How long `stop()` waits for the publish in flight before leaving it for replay. Default 3 s. */
  stopTimeoutMs?: number;
  /** Pause after a publish the client refused while connected. Default 1 s. */
  retryDelayMs?: number;
  /** Refusals while connected before an entry is moved to `bad/`. Default 5. */
  maxAttempts?: number;
  now?: () => Date;
}

export interface OutboxSize {
  entries: number;
  bytes: number;
  /** When the oldest entry was appended; null when empty. */
  oldestAt: Date | null;
}

export class OutboxError extends Error {
  constructor(
    readonly code: 'OUTBOX_MESSAGE_TOO_LARGE' | 'OUTBOX_BAD_MESSAGE',
    message: string,
  ) {
    super(message);
    this.name = 'OutboxError';
  }
}

export class Outbox {
  readonly dir: string;
  private readonly client: OutboxClient;
  private readonly files: OutboxFiles;
  private readonly log: Logger;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly stopTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly maxAttempts: number;
  private readonly now: () => Date;

  private queue: OutboxEntry[] = [];
  private queuedBytes = 0;
  private nextSeq = 1;
  private opening: Promise<void> | null = null;
  /** Appends run one at a time so that files, sequence numbers and the cap stay in step. */
  private appendChain: Promise<unknown> = Promise.resolve();
  private inFlight: OutboxEntry | null = null;
  private loop: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private stopping = false;
  /** Ends the sender's current wait: for work, for a retry, for the ack of a stopped publish. */
  private wakeUp: (() => void) | null = null;
  private cancelPause: (() => void) | null = null;
  private abandonInFlight: (() => void) | null = null;
  private readonly onConnect = () => this.wake();
  private counts = { sent: 0, dropped: 0 };

  constructor(opts: OutboxOptions) {
    this.dir = opts.dir;
    this.client = opts.client;
    this.files = new OutboxFiles(opts.dir, opts.logger);
    this.log = opts.logger;
    this.maxMessages = opts.maxMessages ?? 10_000;
    this.maxBytes = opts.maxBytes ?? 50 * 1024 * 1024;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 3000;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.now = opts.now ?? (() => new Date());
  }

  /** Messages acknowledged by the broker since this instance was made. */
  get sent(): number {
    return this.counts.sent;
  }
  /** Oldest entries dropped at the cap. */
  get dropped(): number {
    return this.counts.dropped;
  }
  /** Unreadable or refused entries moved to `bad/`. */
  get bad(): number {
    return this.files.bad;
  }

  size(): OutboxSize {
    const oldest = this.queue[0];
    return {
      entries: this.queue.length,
      bytes: this.queuedBytes,
      oldestAt: oldest ? new Date(oldest.atMs) : null,
    };
  }

  /** Reads what an earlier run left and starts sending whenever the client is connected. */
  start(): Promise<void> {
    this.starting ??= this.open()
      .then(() => {
        if (this.loop) return;
        this.stopping = false;
        this.client.on('connect', this.onConnect);
        this.loop = this.run();
      })
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  /**
   * Stops the sender. A publish in flight gets `stopTimeoutMs` to be acknowledged; after that
   * its file stays for the next run. Appends keep working (they only write to disk).
   */
  async stop(): Promise<void> {
    await this.starting?.catch(() => {});
    const loop = this.loop;
    if (!loop) return;
    this.stopping = true;
    this.client.removeListener('connect', this.onConnect);
    this.wake();
    this.cancelPause?.();
    const timer = setTimeout(() => this.abandonInFlight?.(), this.stopTimeoutMs);
    await loop;
    clearTimeout(timer);
    this.loop = null;
  }

  /** Writes the message durably (temp file, fsync, rename, fsync of the folder), then queues it. */
  append(msg: OutboxMessage): Promise<void> {
    const run = this.appendChain.then(() => this.write(msg));
    this.appendChain = run.catch(() => {});
    return run;
  }

  private open(): Promise<void> {
    this.opening ??= this.load().catch((err: unknown) => {
      this.opening = null;
      throw err;
    });
    return this.opening;
  }

  private async load(): Promise<void> {
    const found = await this.files.scan();
    this.queue = found;
    this.queuedBytes = found.reduce((sum, e) => sum + e.bytes, 0);
    this.nextSeq = (found.at(-1)?.seq ?? 0) + 1;
    if (found.length > 0)
      this.log.info({ dir: this.dir, entries: found.length, bytes: this.queuedBytes }, 'outbox: replaying');
    // The caps may have been lowered since the last run.
    await this.makeRoom(0, 0);
  }

  private async write(msg: OutboxMessage): Promise<void> {
    if (typeof msg.topic !== 'string' || msg.topic === '' || typeof msg.payload !== 'string')
      throw new OutboxError('OUTBOX_BAD_MESSAGE', 'an outbox message needs a topic and a string payload');
    await this.open();
    const at = this.now();
    const body = encodeEntry(msg, at);
    const bytes = Buffer.byteLength(body);
    if (bytes > this.maxBytes)
      throw new OutboxError(
        'OUTBOX_MESSAGE_TOO_LARGE',
        `message for ${msg.topic} is ${bytes} bytes, over the outbox cap of ${this.maxBytes}`,
      );
    await this.makeRoom(1, bytes);
    const seq = this.nextSeq++;
    const name = await this.files.write(seq, body);
    this.queue.push({ seq, name, bytes, atMs: at.getTime(), attempts: 0 });
    this.queuedBytes += bytes;
    this.wake();
  }

  /** Drops the oldest entries (never the one in flight) until `count` more entries and `bytes` fit. */
  private async makeRoom(count: number, bytes: number): Promise<void> {
    const victims: OutboxEntry[] = [];
    while (this.queue.length + count > this.maxMessages || this.queuedBytes + bytes > this.maxBytes) {
      const victim = this.queue.find((e) => e !== this.inFlight);
      if (!victim) break;
      this.remove(victim);
      victims.push(victim);
    }
    if (victims.length === 0) return;
    this.counts.dropped += victims.length;
    this.log.warn(
      {
        dir: this.dir,
        dropped: victims.length,
        droppedTotal: this.counts.dropped,
        oldestDroppedAt: new Date(victims[0]?.atMs ?? 0).toISOString(),
        maxMessages: this.maxMessages,
        maxBytes: this.maxBytes,
      },
      'outbox full: oldest messages dropped',
    );
    for (const v of victims) await this.files.drop(v.name);
  }

  private remove(entry: OutboxEntry): void {
    const i = this.queue.indexOf(entry);
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.queuedBytes -= entry.bytes;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Until an append, a connect or stop. */
  private idle(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
    });
  }

  /** Until `ms` have passed or stop. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.cancelPause = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.cancelPause = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const entry = this.queue[0];
      if (!entry || !this.client.connected) {
        await this.idle();
        continue;
      }
      try {
        await this.sendHead(entry);
      } catch (err) {
        // Only file-system surprises land here; the loop must outlive them.
        this.log.error({ dir: this.dir, err: (err as Error).message }, 'outbox sender error');
        await this.pause(this.retryDelayMs);
      } finally {
        this.inFlight = null;
      }
    }
  }

  private async sendHead(entry: OutboxEntry): Promise<void> {
    this.inFlight = entry;
    const msg = await this.read(entry);
    if (!msg || this.stopping) return;
    // stop() abandons the wait after its timeout; the file stays and goes again next run.
    const abandoned = new Promise<'abandoned'>((resolve) => {
      this.abandonInFlight = () => resolve('abandoned');
    });
    let outcome: 'acked' | 'abandoned' | Error;
    try {
      outcome = await Promise.race([
        this.client
          .publishAsync(msg.topic, msg.payload, { qos: 1, retain: msg.retain })
          .then(() => 'acked' as const),
        abandoned,
      ]);
    } catch (err) {
      outcome = err instanceof Error ? err : new Error(String(err));
    } finally {
      this.abandonInFlight = null;
    }
    if (outcome === 'abandoned') {
      this.log.warn({ dir: this.dir, topic: msg.topic }, 'outbox stopped before the ack; kept for replay');
      return;
    }
    if (outcome === 'acked') {
      this.remove(entry);
      this.counts.sent++;
      await this.files.removeSent(entry.name);
      return;
    }
    // Refused while the link was down is no fault of the message; it goes again on reconnect.
    if (!this.client.connected) return;
    entry.attempts++;
    this.log.warn(
      { topic: msg.topic, attempt: entry.attempts, err: outcome.message },
      'outbox publish refused',
    );
    if (entry.attempts >= this.maxAttempts) await this.moveAside(entry, `refused: ${outcome.message}`);
    else await this.pause(this.retryDelayMs);
  }

  /** The entry's message, or null after moving an unreadable file aside. */
  private async read(entry: OutboxEntry): Promise<Required<OutboxMessage> | null> {
    const read = await this.files.read(entry.name);
    if (read.ok) return read.message;
    await this.moveAside(entry, read.reason);
    return null;
  }

  /** Takes the entry out of the queue and its file out of the folder (to `bad/`); never throws. */
  private async moveAside(entry: OutboxEntry, reason: string): Promise<void> {
    this.remove(entry);
    await this.files.moveAside(entry.name, reason);
  }
}
