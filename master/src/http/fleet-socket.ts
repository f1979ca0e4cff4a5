import type { EventView, FleetSocketMessage, NodeView, SessionUser } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { canSeeCamera, visibleNode, visibleNodes } from '../auth/access.ts';

interface Client {
  user: SessionUser;
}

/**
 * Dashboard websocket clients: a snapshot on connect, then every node change and new event,
 * each filtered by what the client's user may see (their cameras, and the nodes of those).
 */
export class FleetSocketHub {
  private readonly clients = new Map<WebSocket, Client>();

  constructor(
    private readonly snapshot: () => Promise<NodeView[]>,
    private readonly log: Logger,
    private readonly onCount: (n: number) => void = () => {},
  ) {}

  async add(socket: WebSocket, user: SessionUser): Promise<void> {
    this.clients.set(socket, { user });
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

  /** Pushes stored events, one message each, to the clients allowed their cameras. */
  eventsStored(events: EventView[]): void {
    if (this.clients.size === 0) return;
    for (const event of events) {
      const msg = JSON.stringify({ type: 'event', event } satisfies FleetSocketMessage);
      for (const [s, c] of this.clients)
        if (s.readyState === s.OPEN && canSeeCamera(c.user, event.cameraId)) s.send(msg);
    }
  }

  /** Closes the sockets of a user whose rights or sessions changed; dashboards reconnect. */
  closeUser(userId: string, reason: string): void {
    for (const [s, c] of this.clients) if (c.user.id === userId) s.close(4001, reason);
  }

  closeAll(): void {
    for (const s of this.clients.keys()) s.close(1001, 'master shutting down');
  }

  private send(socket: WebSocket, msg: FleetSocketMessage): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
  }
}
