/**
 * What several service processes on one PostgreSQL use to work as one (docs/adr/0024):
 *
 * - `PgChannel`: LISTEN/NOTIFY on one channel, on a connection of its own that is opened again
 *   after a database restart (`onReconnect` tells the caller that notifications may have been
 *   missed meanwhile).
 * - `AdvisoryLeader`: a session-level advisory lock held on a connection of its own. The
 *   process holding it is the one that does the work that must be done once (stale nodes, alert
 *   conditions, retention). PostgreSQL releases the lock when that connection ends, so a process
 *   killed with -9 hands it over at the next try of another one.
 */
import pg from 'pg';

export interface PgSessionHooks {
  /** A connection failed or ended; the session is opened again after a pause. */
  onError?: (err: Error) => void;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/** A dedicated connection, opened again (with a growing pause) whenever it ends. */
abstract class PgSession {
  /** The connection once set up. */
  protected client: pg.Client | null = null;
  /** The connection being opened or open. */
  private current: pg.Client | null = null;
  private stopped = false;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private opening: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    protected readonly hooks: PgSessionHooks,
  ) {}

  /** Resolves once the first connection is set up (or has failed: it is retried then). */
  start(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.current;
    this.current = null;
    this.client = null;
    await client?.end().catch(() => {});
  }

  /** Set up a fresh connection (LISTEN, the first lock attempt). */
  protected abstract ready(client: pg.Client): Promise<void>;
  /** The connection is gone (its lock, its LISTEN with it). */
  protected abstract lost(): void;

  private async open(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    this.current = client;
    client.on('error', (err) => this.fail(client, err));
    client.on('end', () => this.fail(client, new Error('connection ended')));
    try {
      await client.connect();
      if (this.stopped || this.current !== client) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      await this.ready(client);
      this.retryMs = RETRY_MIN_MS;
    } catch (err) {
      this.fail(client, err as Error);
    }
  }

  /** The connection being opened or open failed: dropped, and a new one opened after a pause. */
  private fail(client: pg.Client, err: Error): void {
    // A late event of a connection already given up.
    if (this.stopped || client !== this.current) return;
    this.current = null;
    const wasOpen = this.client === client;
    this.client = null;
    client.end().catch(() => {});
    if (wasOpen) this.lost();
    this.hooks.onError?.(err);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.opening = this.open();
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}

export interface PgChannelOptions extends PgSessionHooks {
  url: string;
  /** The channel name: lower case letters, digits and underscores. */
  channel: string;
  onMessage: (payload: string) => void;
  /** Listening again after the connection was lost: what was sent meanwhile was missed. */
  onReconnect?: () => void;
}

/** PostgreSQL's limit on a notification's payload, in bytes (less one for safety). */
export const NOTIFY_MAX_BYTES = 7999;

export class PgChannel extends PgSession {
  private listenedBefore = false;

  constructor(private readonly o: PgChannelOptions) {
    super(o.url, o);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(o.channel)) throw new Error(`bad channel name: ${o.channel}`);
  }

  protected async ready(client: pg.Client): Promise<void> {
    client.on('notification', (n) => {
      if (n.channel === this.o.channel) this.o.onMessage(n.payload ?? '');
    });
    await client.query(`LISTEN ${this.o.channel}`);
    if (this.listenedBefore) this.o.onReconnect?.();
    this.listenedBefore = true;
  }

  protected lost(): void {}
}

/** Sends `payload` on `channel` through any connection of `pool` (at most NOTIFY_MAX_BYTES). */
export async function notify(pool: pg.Pool, channel: string, payload: string): Promise<void> {
  if (Buffer.byteLength(payload) > NOTIFY_MAX_BYTES)
    throw new Error(`notification of ${Buffer.byteLength(payload)} bytes is over PostgreSQL's limit`);
  await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

export interface AdvisoryLeaderOptions extends PgSessionHooks {
  url: string;
  /** The lock's key (one per kind of work done once). */
  key: bigint;
  /** How often a follower tries for the lock and a leader checks its connection. */
  intervalMs?: number;
  onChange?: (leader: boolean) => void;
}

export class AdvisoryLeader extends PgSession {
  private leading = false;
  private tick: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly o: AdvisoryLeaderOptions) {
    super(o.url, o);
  }

  /** Whether this process holds the lock (as of its last check). */
  get isLeader(): boolean {
    return this.leading;
  }

  override async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.set(false);
    await super.stop();
  }

  protected async ready(client: pg.Client): Promise<void> {
    if (!this.tick) {
      this.tick = setInterval(() => void this.check(), this.o.intervalMs ?? 2000);
      this.tick.unref();
    }
    await this.attempt(client);
  }

  protected lost(): void {
    this.set(false);
  }

  private async check(): Promise<void> {
    const client = this.client;
    if (!client || this.busy) return;
    this.busy = true;
    try {
      // A leader proves its connection (and so its lock) is still there; a follower tries.
      if (this.leading) await client.query('SELECT 1');
      else await this.attempt(client);
    } catch {
      // The session's error handler reopens it; the lock went with the connection.
      this.set(false);
    } finally {
      this.busy = false;
    }
  }

  private async attempt(client: pg.Client): Promise<void> {
    const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
      this.o.key.toString(),
    ]);
    this.set(r.rows[0]?.ok === true);
  }

  private set(leader: boolean): void {
    if (leader === this.leading) return;
    this.leading = leader;
    this.o.onChange?.(leader);
  }
}

/** Advisory lock keys of the work done once per cluster (any 64-bit numbers, fixed forever). */
export const LOCK_KEYS = {
  /** The master that judges stale nodes and alert conditions, prunes and cleans up. */
  masterLeader: 0x63637476_00000001n,
  /** The gateway that runs retention. */
  gatewayRetention: 0x63637476_00000002n,
} as const;
