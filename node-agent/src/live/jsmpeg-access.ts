/**
 * Who may open a jsmpeg viewer socket: the path names a valid camera, and the query carries a
 * single-use ticket issued for it. A browser cannot set headers on a WebSocket,
 * so the dashboard gets a short-lived ticket from an authenticated call and puts it in the
 * query string; taking it burns it, so a leaked URL is worth nothing once used or expired.
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isValidId } from '@cctv/protocol';

export const PATH_PREFIX = '/live/jsmpeg/';

/** Why a presented ticket was not accepted. */
export type TicketRefusal = 'no-ticket' | 'unknown-ticket' | 'expired-ticket' | 'wrong-camera';

export type RefusalReason = TicketRefusal | 'bad-path' | 'bad-camera-id' | 'stopping';

export interface Refusal {
  status: 400 | 401 | 404 | 503;
  reason: RefusalReason;
}

/** The camera a viewer path names, or why it names none (404: not ours; 400: not an id). */
export function cameraOfPath(pathname: string): { cameraId: string } | Refusal {
  const rest = pathname.startsWith(PATH_PREFIX) ? pathname.slice(PATH_PREFIX.length) : '';
  if (rest === '' || rest.includes('/')) return { status: 404, reason: 'bad-path' };
  let cameraId: string;
  try {
    cameraId = decodeURIComponent(rest);
  } catch {
    return { status: 400, reason: 'bad-camera-id' };
  }
  return isValidId(cameraId) ? { cameraId } : { status: 400, reason: 'bad-camera-id' };
}

interface Ticket {
  cameraId: string;
  expiresAtMs: number;
}

/** Answers a refused upgrade with a plain HTTP status on the raw socket, then closes it. */
export function answerRefusal(socket: Duplex, status: Refusal['status']): void {
  const body = `${STATUS_CODES[status]}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    // The server keeps sockets half-open; without this a silent client would hold it.
    () => socket.destroy(),
  );
}

export class TicketBook {
  private readonly tickets = new Map<string, Ticket>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  issue(cameraId: string): { ticket: string; expiresAt: string } {
    this.prune();
    // 32 random bytes: unguessable, so a Map lookup needs no constant-time compare.
    const ticket = randomBytes(32).toString('base64url');
    const expiresAtMs = this.now() + this.ttlMs;
    this.tickets.set(ticket, { cameraId, expiresAtMs });
    return { ticket, expiresAt: new Date(expiresAtMs).toISOString() };
  }

  /**
   * Burns the ticket whatever the outcome: one presented on the wrong camera's path is spent
   * too, so probing with a stolen ticket cannot be retried.
   */
  take(ticket: string | null, cameraId: string): TicketRefusal | null {
    if (!ticket) return 'no-ticket';
    const found = this.tickets.get(ticket);
    if (!found) return 'unknown-ticket';
    this.tickets.delete(ticket);
    if (found.expiresAtMs <= this.now()) return 'expired-ticket';
    if (found.cameraId !== cameraId) return 'wrong-camera';
    return null;
  }

  /** Unused, unexpired tickets of the camera: viewers that are on their way. */
  pending(cameraId: string): number {
    this.prune();
    let n = 0;
    for (const t of this.tickets.values()) if (t.cameraId === cameraId) n++;
    return n;
  }

  /** Forgets the camera's unused tickets (it restarted or was removed). */
  revoke(cameraId: string): void {
    for (const [key, t] of this.tickets) if (t.cameraId === cameraId) this.tickets.delete(key);
  }

  clear(): void {
    this.tickets.clear();
  }

  private prune(): void {
    const now = this.now();
    for (const [key, t] of this.tickets) if (t.expiresAtMs <= now) this.tickets.delete(key);
  }
}
