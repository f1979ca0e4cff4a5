'use client';

import type { IceServer, LiveClientMessage, LiveServerMessage } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';
import { fleetSocketUrl } from '../fleet/fleet-socket';

type Request = Extract<LiveClientMessage, { ref: string }>;
/** A request without its `ref`, kept apart per message type. */
type Unreffed = Request extends infer R ? (R extends Request ? Omit<R, 'ref'> : never) : never;
type Answer = Extract<LiveServerMessage, { type: 'answer' | 'jsmpeg' }>;

export class LiveRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The master's live signalling socket (`/ws/live`): requests with a `ref` are answered by the
 * message carrying the same `ref` (or an error for it). One socket per player: closing it
 * ends the player's sessions on the agent.
 */
export class LiveSocket {
  private readonly pending = new Map<string, { resolve(m: Answer): void; reject(e: Error): void }>();
  private next = 0;
  iceServers: IceServer[] = [];
  onClose: () => void = () => {};

  private constructor(private readonly ws: WebSocket) {}

  static open(masterPublicUrl: string, timeoutMs = 5000): Promise<LiveSocket> {
    const url = new URL(masterRoutes.liveSocket.url, fleetSocketUrl(masterPublicUrl)).toString();
    const ws = new WebSocket(url);
    const socket = new LiveSocket(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.close();
        reject(new LiveRequestError('SIGNALLING_TIMEOUT', 'the master did not open the live socket'));
      }, timeoutMs);
      ws.onmessage = (ev) => {
        const msg = parse(ev.data);
        if (!msg) return;
        if (msg.type === 'ready') {
          clearTimeout(timer);
          socket.iceServers = msg.iceServers;
          resolve(socket);
          return;
        }
        socket.dispatch(msg);
      };
      ws.onclose = () => {
        clearTimeout(timer);
        reject(
          new LiveRequestError(
            'SIGNALLING_CLOSED',
            'the live socket closed (signed out, or the master is unreachable)',
          ),
        );
        socket.failAll();
        socket.onClose();
      };
    });
  }

  request<T extends Answer['type']>(msg: Unreffed): Promise<Extract<Answer, { type: T }>> {
    const ref = String(++this.next);
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve: resolve as (m: Answer) => void, reject });
      this.send({ ...msg, ref } as Request);
    });
  }

  send(msg: LiveClientMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close(): void {
    this.ws.onclose = null;
    this.failAll();
    this.ws.close();
  }

  private dispatch(msg: LiveServerMessage): void {
    if (msg.type === 'ready') return;
    const ref = 'ref' in msg ? msg.ref : undefined;
    const p = ref ? this.pending.get(ref) : undefined;
    if (!p || !ref) return;
    this.pending.delete(ref);
    if (msg.type === 'error') p.reject(new LiveRequestError(msg.code, msg.message));
    else p.resolve(msg);
  }

  private failAll(): void {
    for (const p of this.pending.values())
      p.reject(new LiveRequestError('SIGNALLING_CLOSED', 'the live socket closed'));
    this.pending.clear();
  }
}

function parse(data: unknown): LiveServerMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const msg = JSON.parse(data) as LiveServerMessage;
    return typeof msg?.type === 'string' ? msg : null;
  } catch {
    return null;
  }
}
