import type {
  AlertView,
  EventView,
  FleetSocketMessage,
  NodeView,
  SecurityAlertView,
  SessionUser,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { canSeeCamera, hasRole, visibleNode, visibleNodes } from '../auth/access.ts';
import type { EventRow } from '../events/event-view.ts';

interface Client {
  user: SessionUser;
  /** The session the socket was opened with: signing out of it closes the socket. */
  sessionId: string;
}

/** Builds an event's view for one user (its snapshot links are granted to that user). */
export type EventViewFor = (row: EventRow, user: SessionUser) => Promise<EventView>;

/**
 * Dashboard websocket clients: a snapshot on connect, then every node change and new event,
 * each filtered by what the client's user may see (their cameras, and the nodes of those), and
 * security alerts for admins.
 */
export class FleetSocketHub {
  private readonly clients = new Map<WebSocket, Client>();
  /** The event pushes in progress, one batch after the other. */
  private pushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly snapshot: () => Promise<NodeView[]>,
    private readonly log: Logger,
    private readonly onCount: (n: number) => void = () => {},
    private readonly eventView: EventViewFor,
  ) {}

  async add(socket: WebSocket, user: SessionUser, sessionId: string): Promise<void> {
    this.clients.set(socket, { user, sessionId });
    this.onCount(this.clients.size);
    socket.on('close', () => {
      this.clients.delete(socket);
      this.onCount(this.clients.size);
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'dashboard socket error'));
    try {
      this.send(socket, { type: 'snapshot', nodes: visibleNodes(user, await this.snapshot()) });
    } catch (err) {
      this.log.error({ err }, 'failed to send fleet snapshot');
      socket.close(1011, 'snapshot failed');
    }
  }

  /** Dashboards connected now. */
  get size(): number {
    return this.clients.size;
  }

  nodeChanged(node: NodeView): void {
    // Most users see whole nodes: serialise each distinct view once.
    const cache = new Map<string, string>();
    for (const [s, c] of this.clients) {
      if (s.readyState !== s.OPEN) continue;
      const view = visibleNode(c.user, node);
      if (!view) continue;
      const key = view.cameras.map((x) => x.id).join(',');
      let msg = cache.get(key);
      if (msg === undefined) {
        msg = JSON.stringify({ type: 'node', node: view } satisfies FleetSocketMessage);
        cache.set(key, msg);
      }
      s.send(msg);
    }
  }

  /**
   * Pushes stored events, one message each, to the clients allowed their cameras; a message is
   * built once per user, whose snapshot links are granted to them.
   */
  eventsStored(rows: EventRow[]): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    // One batch after the other, so every dashboard gets events in the order they were stored.
    this.pushing = this.pushing.then(() => this.push(rows));
    return this.pushing;
  }

  private async push(rows: EventRow[]): Promise<void> {
    for (const row of rows) {
      const byUser = new Map<string, Promise<string>>();
      for (const [s, c] of this.clients) {
        if (s.readyState !== s.OPEN || !canSeeCamera(c.user, row.cameraId)) continue;
        let msg = byUser.get(c.user.id);
        if (!msg) {
          msg = this.eventView(row, c.user).then((event) =>
            JSON.stringify({ type: 'event', event } satisfies FleetSocketMessage),
          );
          byUser.set(c.user.id, msg);
        }
        try {
          const text = await msg;
          if (s.readyState === s.OPEN) s.send(text);
        } catch (err) {
          this.log.warn({ err, eventId: row.id }, 'event not pushed');
        }
      }
    }
  }

  /** Pushes a security alert to the admins' dashboards. */
  securityAlert(alert: SecurityAlertView): void {
    const msg = JSON.stringify({ type: 'security', alert } satisfies FleetSocketMessage);
    for (const [s, c] of this.clients) if (s.readyState === s.OPEN && hasRole(c.user, 'admin')) s.send(msg);
  }

  /** An alert raised, repeated, resolved or acknowledged, to the users who may see it. */
  alert(view: AlertView, sees: (user: SessionUser) => boolean): void {
    const msg = JSON.stringify({ type: 'alert', alert: view } satisfies FleetSocketMessage);
    for (const [s, c] of this.clients) if (s.readyState === s.OPEN && sees(c.user)) s.send(msg);
  }

  /** Whether an admin's dashboard is connected (security alerts are read only then). */
  get adminConnected(): boolean {
    for (const c of this.clients.values()) if (hasRole(c.user, 'admin')) return true;
    return false;
  }

  /** Closes the sockets of a user whose rights or sessions changed; dashboards reconnect. */
  closeUser(userId: string, reason: string): void {
    for (const [s, c] of this.clients) if (c.user.id === userId) s.close(4001, reason);
  }

  /** Closes the sockets opened with one session (signed out). */
  closeSession(sessionId: string, reason: string): void {
    for (const [s, c] of this.clients) if (c.sessionId === sessionId) s.close(4001, reason);
  }

  closeAll(): void {
    for (const s of this.clients.keys()) s.close(1001, 'master shutting down');
  }

  private send(socket: WebSocket, msg: FleetSocketMessage): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
  }
}
