/**
 * What the embedded broker allows before a login: how many sockets in all and per address, how
 * many of one address may be still unauthenticated, how long a socket may take to log in, and
 * how large a packet may be declared. Every socket passes `admit` when accepted (the TLS
 * listener: before its handshake) and `serve` when aedes gets it; the broker reports the
 * CONNECT and the login. Refusals and expiries are reported upward and logged at most once per
 * 10 s per kind, since an attacker controls how often they happen.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { type FrameRefusal, MqttFrameGuard } from './frame-guard.ts';

export interface MqttLimits {
  /** Largest packet (fixed header included) a client may send. */
  maxPacketBytes: number;
  /** Open sockets in all, logged in or not. */
  maxConnections: number;
  /** Open sockets from one address. */
  maxConnectionsPerAddress: number;
  /** Sockets from one address that have not logged in yet. */
  maxPendingPerAddress: number;
  /** From accept (TLS: before the handshake) until the login succeeds. */
  connectTimeoutMs: number;
}

export const DEFAULT_MQTT_LIMITS: Readonly<MqttLimits> = {
  maxPacketBytes: 256 * 1024,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 1024,
  maxPendingPerAddress: 64,
  connectTimeoutMs: 5000,
};

/**
 * The first packet is the CONNECT, sent before any login: an agent's is under 1 KiB (client id,
 * username, password, its offline status as last will). Holding it to this keeps what an
 * unauthenticated socket can make the master buffer small whatever `maxPacketBytes` is.
 */
export const MAX_CONNECT_BYTES = 16 * 1024;

export type ConnectionRefusal = 'max_connections' | 'max_per_address' | 'max_pending_per_address';
/** `connect`: the CONNECT had not fully arrived; `authentication`: its login was still being checked. */
export type DeadlineStage = 'connect' | 'authentication';

export interface ConnectionGateOptions {
  limits: MqttLimits;
  log: Logger;
  onRefused?: (reason: ConnectionRefusal, address: string) => void;
  onDeadline?: (stage: DeadlineStage, address: string) => void;
  onPacketRefused?: (reason: FrameRefusal, address: string, declaredBytes: number) => void;
  /** Open sockets, and how many of them have not logged in; on every change. */
  onSockets?: (open: number, pending: number) => void;
}

interface Tracked {
  address: string;
  /** The socket aedes reads (the TLS socket once the handshake is done), else the raw one. */
  conn: Socket;
  /** `settled`: logged in, or closed before it did. */
  stage: DeadlineStage | 'settled';
  timer: NodeJS.Timeout | undefined;
  /** When bytes last came in (ms epoch): tells a dead half-open socket from a busy one. */
  lastReadAt: number;
}

interface AddressCount {
  open: number;
  pending: number;
}

const QUIET_MS = 10_000;

/** One key per host: an IPv4 client seen through a dual-stack listener counts as itself. */
const normalAddress = (raw: string | undefined): string =>
  raw === undefined ? 'unknown' : raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;

// The same connection seen as raw TCP socket at accept and as TLS socket after the handshake.
const peerKey = (s: Socket) => `${s.localPort}|${s.remoteAddress}|${s.remotePort}`;

export class ConnectionGate {
  private readonly byConn = new WeakMap<object, Tracked>();
  private readonly byPeer = new Map<string, Tracked>();
  private readonly addresses = new Map<string, AddressCount>();
  private readonly live = new Set<Tracked>();
  private pending = 0;
  private readonly quiet = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly opts: ConnectionGateOptions) {}

  /** Counts a just-accepted socket in, or destroys it and says why not. */
  admit(raw: Socket): boolean {
    const { limits } = this.opts;
    const address = normalAddress(raw.remoteAddress);
    const count = this.addresses.get(address) ?? { open: 0, pending: 0 };
    const refusal: ConnectionRefusal | null =
      this.live.size >= limits.maxConnections
        ? 'max_connections'
        : count.open >= limits.maxConnectionsPerAddress
          ? 'max_per_address'
          : count.pending >= limits.maxPendingPerAddress
            ? 'max_pending_per_address'
            : null;
    if (refusal || raw.destroyed) {
      raw.on('error', () => {});
      raw.destroy();
      if (!refusal) return false;
      this.opts.onRefused?.(refusal, address);
      this.warn(`refused:${refusal}`, { address, reason: refusal }, 'mqtt connection refused at accept');
      return false;
    }
    const tracked: Tracked = {
      address,
      conn: raw,
      stage: 'connect',
      timer: undefined,
      lastReadAt: Date.now(),
    };
    tracked.timer = setTimeout(() => this.expire(tracked), limits.connectTimeoutMs);
    this.live.add(tracked);
    this.pending++;
    count.open++;
    count.pending++;
    this.addresses.set(address, count);
    this.byConn.set(raw, tracked);
    const key = peerKey(raw);
    this.byPeer.set(key, tracked);
    raw.once('close', () => {
      if (this.byPeer.get(key) === tracked) this.byPeer.delete(key);
      this.release(tracked);
    });
    this.report();
    return true;
  }

  /**
   * Puts the packet-size guard on the socket aedes will read: the admitted one, or the TLS
   * socket made of it. False (and destroyed) for one that was never admitted or already closed.
   */
  serve(conn: Socket): boolean {
    const tracked = this.byConn.get(conn) ?? this.byPeer.get(peerKey(conn));
    if (!tracked || !this.live.has(tracked) || conn.destroyed) {
      conn.destroy();
      return false;
    }
    tracked.conn = conn;
    this.byConn.set(conn, tracked);
    this.guard(conn, tracked);
    return true;
  }

  /** The CONNECT arrived: the deadline now waits on the login check. */
  connectReceived(conn: object): void {
    const tracked = this.byConn.get(conn);
    if (tracked?.stage === 'connect') tracked.stage = 'authentication';
  }

  /** The login succeeded: no deadline any more, no longer pending. */
  authenticated(conn: object): void {
    const tracked = this.byConn.get(conn);
    if (!tracked || tracked.stage === 'settled' || !this.live.has(tracked)) return;
    this.settle(tracked);
    this.report();
  }

  /** The client's address as counted here; null for a socket never admitted. */
  addressOf(conn: object): string | null {
    return this.byConn.get(conn)?.address ?? null;
  }

  /** Milliseconds since the socket last received bytes; null for a socket never admitted. */
  idleMs(conn: object): number | null {
    const tracked = this.byConn.get(conn);
    return tracked ? Date.now() - tracked.lastReadAt : null;
  }

  /** Closes every socket still open (the broker is stopping; aedes knows only logged-in ones). */
  destroyAll(): void {
    for (const tracked of [...this.live]) tracked.conn.destroy();
  }

  // Every byte aedes takes from the socket comes out of `read()` (it reads in paused mode on
  // 'readable'), so checking there sees each byte once, before mqtt-packet buffers it, and
  // keeps aedes' own reading and the socket's backpressure as they are.
  private guard(conn: Socket, tracked: Tracked): void {
    const limits = this.opts.limits;
    const frames = new MqttFrameGuard(limits.maxPacketBytes, MAX_CONNECT_BYTES);
    const read = conn.read.bind(conn);
    conn.read = (size?: number) => {
      const chunk: unknown = read(size);
      if (chunk === null || !(chunk instanceof Uint8Array) || conn.destroyed) return chunk;
      tracked.lastReadAt = Date.now();
      const refusal = frames.push(chunk);
      if (!refusal) return chunk;
      const { address } = tracked;
      this.opts.onPacketRefused?.(refusal, address, frames.declaredBytes);
      this.warn(
        `packet:${refusal}`,
        {
          address,
          reason: refusal,
          declaredBytes: frames.declaredBytes,
          maxPacketBytes: limits.maxPacketBytes,
        },
        'mqtt packet refused, connection closed',
      );
      conn.destroy();
      return null;
    };
  }

  private expire(tracked: Tracked): void {
    tracked.timer = undefined;
    if (tracked.stage === 'settled' || !this.live.has(tracked)) return;
    const stage = tracked.stage;
    this.opts.onDeadline?.(stage, tracked.address);
    this.warn(
      `deadline:${stage}`,
      { address: tracked.address, stage, connectTimeoutMs: this.opts.limits.connectTimeoutMs },
      'mqtt socket closed: no login before the deadline',
    );
    tracked.conn.destroy();
  }

  /** Leaves the pending state: logged in, or closed before. */
  private settle(tracked: Tracked): void {
    if (tracked.timer) clearTimeout(tracked.timer);
    tracked.timer = undefined;
    if (tracked.stage === 'settled') return;
    tracked.stage = 'settled';
    this.pending--;
    const count = this.addresses.get(tracked.address);
    if (count) count.pending--;
  }

  private release(tracked: Tracked): void {
    if (!this.live.delete(tracked)) return;
    this.settle(tracked);
    const count = this.addresses.get(tracked.address);
    if (count && --count.open <= 0) this.addresses.delete(tracked.address);
    this.report();
  }

  private report(): void {
    this.opts.onSockets?.(this.live.size, this.pending);
  }

  // The first of each kind in a 10 s window is logged, the rest counted into the next line.
  private warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const q = this.quiet.get(kind);
    if (q && now < q.until) {
      q.suppressed++;
      return;
    }
    this.quiet.set(kind, { until: now + QUIET_MS, suppressed: 0 });
    this.opts.log.warn({ ...fields, suppressedBefore: q?.suppressed ?? 0 }, msg);
  }
}
