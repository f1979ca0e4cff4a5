/**
 * Notices a session takeover: a client logging in with the client id of a connected one. The
 * broker must let the new connection replace the old (MQTT 3.1.4-2), so one node's credentials
 * on two hosts make them throw each other out in turn; what this records lets the master log,
 * count and raise it instead of seeing only a flapping node.
 */
import type { Duplex } from 'node:stream';
import type { MqttIdentity } from './acl.ts';

export interface SessionTakeover {
  clientId: string;
  /** Who the new connection logged in as; null with `MQTT_AUTH=off`. */
  identity: MqttIdentity | null;
  address: string | null;
  previousAddress: string | null;
  /**
   * How long the replaced connection had been silent. Agents send something at least every
   * keepalive (10 s), so much longer means it was most likely dead already (a host that
   * rebooted, a network that dropped); a second or two means two live clients share the id.
   */
  previousIdleMs: number | null;
}

/** What the connection gate knows of a connection. */
export interface ConnectionFacts {
  addressOf(conn: object): string | null;
  idleMs(conn: object): number | null;
}

export class SessionTracker {
  /** The connection of each logged-in client id. */
  private readonly sessions = new Map<string, Duplex>();

  constructor(private readonly facts: ConnectionFacts) {}

  /** Records the connection a client just logged in on; the takeover when it replaces a live one. */
  loggedIn(clientId: string, conn: Duplex, identity: MqttIdentity | null): SessionTakeover | null {
    if (conn.destroyed) return null;
    const previous = this.sessions.get(clientId);
    this.sessions.set(clientId, conn);
    conn.once('close', () => {
      if (this.sessions.get(clientId) === conn) this.sessions.delete(clientId);
    });
    if (!previous || previous === conn || previous.destroyed) return null;
    return {
      clientId,
      identity,
      address: this.facts.addressOf(conn),
      previousAddress: this.facts.addressOf(previous),
      previousIdleMs: this.facts.idleMs(previous),
    };
  }
}
