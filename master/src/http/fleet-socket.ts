import type { EventView, FleetSocketMessage, NodeView } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

/** Dashboard websocket clients: a snapshot on connect, then every node change. */
export class FleetSocketHub {
  private readonly clients = new Set<WebSocket>();

  constructor(
    private readonly snapshot: () => Promise<NodeView[]>,
    private readonly log: Logger,
    private readonly onCount: (n: number) => void = () => {},
  ) {}

  async add(socket: WebSocket): Promise<void> {
    this.clients.add(socket);
    this.onCount(this.clients.size);
    socket.on('close', () => {
      this.clients.delete(socket);
      this.onCount(this.clients.size);
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'dashboard socket error'));
    try {
      this.send(socket, { type: 'snapshot', nodes: await this.snapshot() });
    } catch (err) {
      this.log.error({ err }, 'failed to send fleet snapshot');
      socket.close(1011, 'snapshot failed');
    }
  }

  nodeChanged(node: NodeView): void {
    const msg = JSON.stringify({ type: 'node', node } satisfies FleetSocketMessage);
    for (const s of this.clients) if (s.readyState === s.OPEN) s.send(msg);
  }

  /** Pushes stored events, one message each. */
  eventsStored(events: EventView[]): void {
    if (this.clients.size === 0) return;
    for (const event of events) {
      const msg = JSON.stringify({ type: 'event', event } satisfies FleetSocketMessage);
      for (const s of this.clients) if (s.readyState === s.OPEN) s.send(msg);
    }
  }

  closeAll(): void {
    for (const s of this.clients) s.close(1001, 'master shutting down');
  }

  private send(socket: WebSocket, msg: FleetSocketMessage): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
  }
}
