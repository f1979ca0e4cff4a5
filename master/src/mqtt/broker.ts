/**
 * The embedded MQTT broker (aedes): its plain and TLS listeners, with authentication, topic
 * ACL, connection limits and session takeovers wired into aedes' hooks. Just over 300 lines, it
 * stays one file: each rule is its own file already (acl.ts, authenticator.ts,
 * connection-gate.ts, frame-guard.ts, session-takeover.ts), and what is left is one lifecycle.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { reloadOnChange, type TlsFiles } from '@cctv/tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import {
  type AclRefusal,
  type MqttIdentity,
  publishRefusal,
  subscribeRefusal,
  unauthenticatedPublishRefusal,
} from './acl.ts';
import type { AuthFailureReason, MqttAuthenticator } from './authenticator.ts';
import {
  ConnectionGate,
  type ConnectionRefusal,
  DEFAULT_MQTT_LIMITS,
  type DeadlineStage,
  type MqttLimits,
} from './connection-gate.ts';
import type { FrameRefusal } from './frame-guard.ts';
import type { MessageBus, MessageHandler } from './message-bus.ts';
import { type SessionTakeover, SessionTracker } from './session-takeover.ts';

export type { SessionTakeover } from './session-takeover.ts';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  log: Logger;
  /**
   * Checks every CONNECT and holds each client to its ACL. Without it (`MQTT_AUTH=off`) anyone
   * may connect and only clients named `agent-<nodeId>` are held to their node's prefix.
   */
  authenticator?: MqttAuthenticator;
  /**
   * A second, TLS listener on the same broker (on `host`, else the plain listener's); with
   * `files` its certificate is read again when they change.
   */
  tls?: { port: number; host?: string; cert: Buffer; key: Buffer; files?: TlsFiles };
  /** Called when a client publishes outside what it may publish. */
  onPublishRefused?: (clientId: string, topic: string, reason: AclRefusal) => void;
  /** Called when a subscription is refused (granted QoS 128). */
  onSubscribeRefused?: (clientId: string, filter: string, reason: AclRefusal) => void;
  /** Called when a CONNECT is refused for its credentials. */
  onAuthFailure?: (clientId: string, reason: AuthFailureReason) => void;
  onClientCount?: (n: number) => void;
  /** Connection, login-deadline and packet-size limits, on both listeners; defaults without. */
  limits?: MqttLimits;
  /** A socket closed at accept for a connection limit. */
  onConnectionRefused?: (reason: ConnectionRefusal, address: string) => void;
  /** A socket closed for not logging in within `limits.connectTimeoutMs`. */
  onConnectDeadline?: (stage: DeadlineStage, address: string) => void;
  /** A connection closed for a packet declared over the size limit (or a malformed length). */
  onPacketRefused?: (reason: FrameRefusal, address: string) => void;
  /** Open sockets and those not logged in yet, on every change. */
  onSocketCount?: (open: number, pending: number) => void;
  /**
   * A client logged in with the client id of a connected one, which it replaces (MQTT requires
   * it): two hosts with one node's credentials, or a reconnect before the old socket was seen
   * dead. Already logged at warn.
   */
  onTakeover?: (takeover: SessionTakeover) => void;
}

const listen = (server: Server | TlsServer, port: number, host: string) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

const portOf = (server: Server | TlsServer | undefined): number | null => {
  const addr = server?.address();
  return addr && typeof addr === 'object' ? addr.port : null;
};

/**
 * The embedded aedes broker on a TCP listener (and optionally a TLS one). The master's own
 * handlers attach through in-process subscriptions, so they see exactly what a remote
 * subscriber would, and need no credentials.
 */
export class EmbeddedBroker implements MessageBus {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private tlsServer: TlsServer | undefined;
  private stopReload: () => void = () => {};
  private gate: ConnectionGate | undefined;
  private sessions: SessionTracker | undefined;
  private readonly opts: EmbeddedBrokerOptions;
  /** What each authenticated client is; set by `authenticate`, read by the ACL checks. */
  private readonly identities = new WeakMap<Client, MqttIdentity>();
  /** The connected clients by client id, to end a node's connection when its credential goes. */
  private readonly connected = new Map<string, Client>();

  constructor(opts: EmbeddedBrokerOptions) {
    this.opts = opts;
  }

  get port(): number {
    return portOf(this.server) ?? this.opts.port;
  }

  /** The TLS listener's port; null without one. */
  get tlsPort(): number | null {
    return this.opts.tls ? (portOf(this.tlsServer) ?? this.opts.tls.port) : null;
  }

  private publishRefusal(client: Client, topic: string): AclRefusal | null {
    if (!this.opts.authenticator) return unauthenticatedPublishRefusal(client.id, topic);
    const who = this.identities.get(client);
    return who ? publishRefusal(who, topic) : 'outside_node_tree';
  }

  private subscribeRefusal(client: Client, filter: string): AclRefusal | null {
    if (!this.opts.authenticator) return null;
    const who = this.identities.get(client);
    return who ? subscribeRefusal(who, filter) : 'outside_node_tree';
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: AuthenticateError | null, ok: boolean | null) => void,
  ): void {
    const { authenticator, log } = this.opts;
    this.gate?.connectReceived(client.conn);
    const accept = (identity: MqttIdentity | null) => {
      this.gate?.authenticated(client.conn);
      const takeover = this.sessions?.loggedIn(client.id, client.conn, identity);
      if (takeover) this.takenOver(takeover);
      done(null, true);
    };
    if (!authenticator) {
      accept(null);
      return;
    }
    const refuse = (reason: AuthFailureReason, returnCode: number) => {
      this.opts.onAuthFailure?.(client.id, reason);
      log.warn({ clientId: client.id, username, reason }, 'mqtt login refused');
      const err = Object.assign(new Error(`login refused: ${reason}`), { returnCode });
      done(err as AuthenticateError, false);
    };
    authenticator.authenticate(client.id, username, password).then(
      (result) => {
        if (!result.ok) return refuse(result.reason, result.returnCode);
        this.identities.set(client, result.identity);
        accept(result.identity);
      },
      (err: Error) => {
        log.error({ err, clientId: client.id }, 'mqtt authentication failed');
        refuse('store_unavailable', 3);
      },
    );
  }

  private takenOver(takeover: SessionTakeover): void {
    const { identity, ...where } = takeover;
    this.opts.log.warn(
      {
        ...where,
        ...(identity?.kind === 'node' ? { nodeId: identity.nodeId } : {}),
        ...(identity?.kind === 'service' ? { account: identity.name } : {}),
      },
      'mqtt session takeover: a second connection with the same client id replaces the first',
    );
    this.opts.onTakeover?.(takeover);
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const limits = this.opts.limits ?? DEFAULT_MQTT_LIMITS;
    const gate = new ConnectionGate({
      limits,
      log,
      onRefused: this.opts.onConnectionRefused,
      onDeadline: this.opts.onConnectDeadline,
      onPacketRefused: this.opts.onPacketRefused,
      onSockets: this.opts.onSocketCount,
    });
    this.gate = gate;
    this.sessions = new SessionTracker(gate);
    const broker = await Aedes.createBroker({
      // The gate's own deadline (from accept until the login) comes first; this is aedes' own
      // (from accept until the CONNECT), kept as a second line.
      connectTimeout: limits.connectTimeoutMs,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client: Client | null, packet, done) => {
        // No client: the master's own in-process publish.
        const reason = client ? this.publishRefusal(client, packet.topic) : null;
        if (client && reason) {
          this.opts.onPublishRefused?.(client.id, packet.topic, reason);
          log.warn({ clientId: client.id, topic: packet.topic, reason }, 'publish refused');
          return done(new Error('publish not authorized'));
        }
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const reason = this.subscribeRefusal(client, sub.topic);
        if (reason) {
          this.opts.onSubscribeRefused?.(client.id, sub.topic, reason);
          log.warn({ clientId: client.id, topic: sub.topic, reason }, 'subscription refused');
          // No subscription back: the SUBACK grants QoS 128 (failure) and the client stays.
          return done(null, null);
        }
        done(null, sub);
      },
    });
    const count = () => this.opts.onClientCount?.(broker.connectedClients);
    broker.on('client', (c) => {
      log.debug({ clientId: c.id }, 'mqtt client connected');
      this.connected.set(c.id, c);
      count();
    });
    broker.on('clientDisconnect', (c) => {
      log.debug({ clientId: c.id }, 'mqtt client disconnected');
      if (this.connected.get(c.id) === c) this.connected.delete(c.id);
      count();
    });
    broker.on('clientError', (c, err) =>
      log.debug({ clientId: c.id, err: err.message }, 'mqtt client error'),
    );
    this.broker = broker;
    const server = createServer((socket) => {
      if (gate.admit(socket) && gate.serve(socket)) broker.handle(socket);
    });
    this.server = server;
    await listen(server, this.opts.port, this.opts.host);
    log.info(
      { host: this.opts.host, port: this.port, auth: this.opts.authenticator ? 'required' : 'off', limits },
      'embedded MQTT broker listening',
    );
    const tls = this.opts.tls;
    if (tls) {
      const tlsServer = createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => {
        if (gate.serve(socket)) broker.handle(socket);
      });
      // Counted and timed from the raw socket, so a client that never finishes the handshake
      // is held to the same limits and deadline as one that never sends CONNECT.
      tlsServer.on('connection', (raw: Socket) => gate.admit(raw));
      tlsServer.on('tlsClientError', (err) => log.debug({ err: err.message }, 'mqtt TLS handshake failed'));
      this.tlsServer = tlsServer;
      const host = tls.host ?? this.opts.host;
      await listen(tlsServer, tls.port, host);
      if (tls.files)
        this.stopReload = reloadOnChange(tlsServer, tls.files, (err) =>
          err
            ? log.error(
                { err: err.message },
                'mqtt TLS certificate changed but cannot be loaded; kept the old one',
              )
            : log.info('mqtt TLS certificate reloaded'),
        );
      log.info({ host, port: this.tlsPort }, 'embedded MQTT broker listening (TLS)');
    }
  }

  /** Closes every connection logged in as node `nodeId` (its credential was revoked); how many. */
  disconnectNode(nodeId: string): number {
    let closed = 0;
    for (const client of this.connected.values()) {
      const who = this.identities.get(client);
      if (who?.kind !== 'node' || who.nodeId !== nodeId) continue;
      client.close();
      closed += 1;
    }
    return closed;
  }

  subscribe(filter: string, handler: MessageHandler): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('broker not started');
    const deliver = (packet: AedesPublishPacket, cb: () => void) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      // The handler queues its own work; acknowledging at once keeps the broker flowing.
      handler(packet.topic, payload);
      cb();
    };
    return new Promise((resolve) => broker.subscribe(filter, deliver, () => resolve()));
  }

  /** One master per embedded broker: a shared subscription is a plain one. */
  subscribeShared(filter: string, handler: MessageHandler): Promise<void> {
    return this.subscribe(filter, handler);
  }

  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const broker = this.broker;
    if (!broker) throw new Error('broker not started');
    return new Promise((resolve, reject) =>
      broker.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
          qos: opts.qos,
          retain: opts.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async stop(): Promise<void> {
    this.stopReload();
    const servers = [this.server, this.tlsServer];
    const broker = this.broker;
    this.server = undefined;
    this.tlsServer = undefined;
    this.broker = undefined;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    // aedes closes logged-in clients only; the servers wait for every socket.
    this.gate?.destroyAll();
    for (const server of servers)
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
