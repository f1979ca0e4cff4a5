/**
 * The masters' shared feed (docs/adr/0024): what one master stored or changed reaches the
 * dashboards connected to every master. Sent with NOTIFY on one channel, heard with LISTEN;
 * node ids are gathered for a moment and sent in as few notifications as fit, so 5,000 nodes'
 * heartbeats make a handful of notifications a second.
 *
 * Node changes come back to the master that sent them too (it reads the views like the others);
 * events and alerts are pushed by their own master at once, and the others read them by id.
 */
import { NOTIFY_MAX_BYTES, notify, PgChannel, type PgPool } from '@cctv/db';
import { CLUSTER_CHANNEL, type ClusterMessage, validators } from '@cctv/protocol';
import type { Logger } from 'pino';

export interface ClusterFeedHandlers {
  /** Node rows changed (on any master, this one included). */
  nodes(ids: string[]): void;
  /** Events another master stored and pushed to its own dashboards. */
  events(ids: string[]): void;
  /** Alerts another master raised or changed. */
  alerts(ids: bigint[]): void;
  sessionEnded(sessionId: string): void;
  userSessionsEnded(userId: string): void;
  exportQueued(): void;
  reload(what: 'rules' | 'channels'): void;
  /** The feed was cut (database restart): pushes may have been missed. */
  resync(): void;
}

export interface ClusterFeedOptions {
  url: string;
  /** Where notifications are sent from (not the listening connection). */
  pool: PgPool;
  /** This master process (MASTER_INSTANCE_ID). */
  instanceId: string;
  handlers: ClusterFeedHandlers;
  log: Logger;
  /** How long node ids are gathered before they are sent. */
  gatherMs?: number;
  /** A message that failed validation (sent by something that is not a master). */
  onInvalid?: () => void;
  onSent?: (kind: ClusterMessage['k']) => void;
}

export class ClusterFeed {
  private readonly channel: PgChannel;
  private readonly nodeIds = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly o: ClusterFeedOptions) {
    this.channel = new PgChannel({
      url: o.url,
      channel: CLUSTER_CHANNEL,
      onMessage: (payload) => this.receive(payload),
      onReconnect: () => {
        o.log.warn('cluster feed listening again after a lost connection: dashboards refreshed');
        o.handlers.resync();
      },
      onError: (err) => o.log.warn({ err: err.message }, 'cluster feed connection lost; reconnecting'),
    });
  }

  start(): Promise<void> {
    return this.channel.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flushNodes();
    await this.sending;
    await this.channel.stop();
  }

  /** Node rows changed here; sent after a moment with whatever else changed meanwhile. */
  nodesChanged(ids: Iterable<string>): void {
    for (const id of ids) this.nodeIds.add(id);
    if (this.nodeIds.size > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flushNodes();
      }, this.o.gatherMs ?? 100);
      this.timer.unref();
    }
  }

  eventsStored(ids: string[]): void {
    this.sendIds(ids, (chunk) => ({ k: 'events', from: this.o.instanceId, ids: chunk }));
  }

  alertsChanged(ids: bigint[]): void {
    this.sendIds(
      ids.map((id) => id.toString()),
      (chunk) => ({ k: 'alerts', from: this.o.instanceId, ids: chunk }),
    );
  }

  sessionEnded(sessionId: string): void {
    this.send({ k: 'session', id: sessionId });
  }

  userSessionsEnded(userId: string): void {
    this.send({ k: 'user', id: userId });
  }

  exportQueued(): void {
    this.send({ k: 'exports' });
  }

  /** Alert rules or channels changed here: every master (this one too) reads them again. */
  reload(what: 'rules' | 'channels'): void {
    this.send({ k: 'reload', what });
  }

  private flushNodes(): void {
    const ids = [...this.nodeIds];
    this.nodeIds.clear();
    this.sendIds(ids, (chunk) => ({ k: 'nodes', ids: chunk }));
  }

  /** Sends ids in as few notifications as fit PostgreSQL's payload limit. */
  private sendIds(ids: string[], message: (chunk: string[]) => ClusterMessage): void {
    let chunk: string[] = [];
    let bytes = 64 + this.o.instanceId.length;
    for (const id of ids) {
      if (chunk.length > 0 && (bytes + id.length + 3 > NOTIFY_MAX_BYTES || chunk.length >= 2000)) {
        this.send(message(chunk));
        chunk = [];
        bytes = 64 + this.o.instanceId.length;
      }
      chunk.push(id);
      bytes += id.length + 3;
    }
    if (chunk.length > 0) this.send(message(chunk));
  }

  private send(msg: ClusterMessage): void {
    const payload = JSON.stringify(msg);
    // In order, one after the other: a session's end is never overtaken by older news.
    this.sending = this.sending
      .then(() => notify(this.o.pool, CLUSTER_CHANNEL, payload))
      .then(
        () => this.o.onSent?.(msg.k),
        (err: Error) => this.o.log.warn({ err: err.message, kind: msg.k }, 'cluster notification not sent'),
      );
  }

  private receive(payload: string): void {
    const parsed = validators.clusterMessage.parse(payload);
    if (!parsed.ok) {
      this.o.onInvalid?.();
      this.o.log.warn({ error: parsed.error }, 'cluster notification dropped: not a master message');
      return;
    }
    const m = parsed.value;
    const h = this.o.handlers;
    switch (m.k) {
      case 'nodes':
        h.nodes(m.ids);
        break;
      case 'events':
        if (m.from !== this.o.instanceId) h.events(m.ids);
        break;
      case 'alerts':
        if (m.from !== this.o.instanceId) h.alerts(m.ids.map((id) => BigInt(id)));
        break;
      case 'session':
        h.sessionEnded(m.id);
        break;
      case 'user':
        h.userSessionsEnded(m.id);
        break;
      case 'exports':
        h.exportQueued();
        break;
      case 'reload':
        h.reload(m.what);
        break;
    }
  }
}
