/**
 * The delivery outbox: every send of an alert to a channel is a row written with the alert
 * (alert-store.ts), taken by one master at a time under a lease, sent, and marked delivered; a
 * failed send is tried again with exponential backoff (or the receiver's Retry-After), and goes
 * to the dead-letter list after its last attempt or a permanent refusal. At least once: a
 * master that dies between the send and the mark sends again after the lease, with the same
 * idempotency key, which receivers use to drop the repeat.
 */
import type { AlertDelivery, Event as EventRow, NotificationChannel, PrismaClient } from '@cctv/db';
import type { AlertDeliveryPage, AlertDeliveryView, AlertNotification, SnapshotRef } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { SendResult } from '../notify/result.ts';
import type { Alert } from './alert-store.ts';
import { notificationEvent } from './notifications.ts';

/**
 * The event's snapshot is named but not on the gateway yet (the agent uploads it just after the
 * event's first message): a sender that attaches it tries again shortly rather than go without.
 */
export class SnapshotNotReady extends Error {}

/** How long a delivery waits for its event's snapshot before it goes without. */
const SNAPSHOT_WAIT_MS = 30_000;

/** An event's snapshot, for channels that attach it (email). */
export interface SnapshotFile {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A channel as a sender needs it: settings with the secret opened. */
export interface OpenChannel {
  id: string;
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  secret: string | null;
}

export interface ChannelSender {
  send(
    channel: OpenChannel,
    notification: AlertNotification,
    snapshot: () => Promise<SnapshotFile | null>,
  ): Promise<SendResult>;
}

export interface OutboxOptions {
  db: PrismaClient;
  sender: ChannelSender;
  /** The channel with its secret opened. */
  openChannel: (row: NotificationChannel) => OpenChannel;
  /** A snapshot's URL on the gateway under a grant for receivers, and its bytes for attachments. */
  snapshots: {
    /** `at`: when the delivery was made; the link is the same on every attempt. */
    url: (cameraId: string, ref: SnapshotRef, event: EventRow, at: Date) => Promise<string>;
    fetch: (cameraId: string, ref: SnapshotRef, event: EventRow) => Promise<Buffer>;
  };
  ruleName: (ruleId: string) => string | null;
  log: Logger;
  onResult?: (kind: string, result: 'delivered' | 'retry' | 'dead') => void;
  /** Backoff: base × 2^(attempt-1), at most maxMs, with ±20 % jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
  pollMs?: number;
  leaseMs?: number;
  batch?: number;
  now?: () => Date;
}

export class Outbox {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly o: OutboxOptions) {
    this.now = o.now ?? (() => new Date());
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.o.pollMs ?? 1000);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Sends what is due now (after an alert is raised, not to wait for the next poll). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          while (!this.stopped && (await this.round()) > 0);
        } catch (err) {
          this.o.log.warn({ err }, 'alert deliveries not sent; trying again');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
  }

  /** Takes due deliveries under a lease and sends them; the number taken. */
  private async round(): Promise<number> {
    const leaseMs = this.o.leaseMs ?? 60_000;
    const now = this.now();
    const taken = await this.o.db.$queryRaw<AlertDelivery[]>`
      UPDATE "AlertDelivery" SET "leaseUntil" = ${new Date(now.getTime() + leaseMs)}, attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM "AlertDelivery"
        WHERE state = 'pending' AND "nextAttemptAt" <= ${now} AND ("leaseUntil" IS NULL OR "leaseUntil" < ${now})
        ORDER BY "nextAttemptAt", id LIMIT ${this.o.batch ?? 20}
        FOR UPDATE SKIP LOCKED)
      RETURNING *`;
    await Promise.all(taken.map((d) => this.deliver(d)));
    return taken.length;
  }

  private async deliver(d: AlertDelivery): Promise<void> {
    const [alert, channelRow] = await Promise.all([
      this.o.db.alert.findUnique({ where: { id: d.alertId } }),
      this.o.db.notificationChannel.findUnique({ where: { id: d.channelId } }),
    ]);
    if (!alert || !channelRow)
      return this.finish(d, 'dead', channelRow?.kind ?? 'unknown', 'alert or channel removed');
    if (!channelRow.enabled) return this.finish(d, 'dead', channelRow.kind, 'channel disabled');
    let result: SendResult;
    try {
      const event = alert.eventId ? await this.o.db.event.findUnique({ where: { id: alert.eventId } }) : null;
      const ref = (event?.snapshot as SnapshotRef | null | undefined) ?? null;
      const notification = await this.notification(d, alert, event, ref);
      const channel = this.o.openChannel(channelRow);
      result = await this.o.sender.send(channel, notification, async () => {
        if (!event || !ref) return null;
        let content: Buffer;
        try {
          content = await this.o.snapshots.fetch(event.cameraId, ref, event);
        } catch (err) {
          if (this.now().getTime() - d.createdAt.getTime() < SNAPSHOT_WAIT_MS)
            throw new SnapshotNotReady(`snapshot not on the gateway yet: ${(err as Error).message}`);
          throw err;
        }
        return {
          filename: `${alert.cameraId ?? 'snapshot'}-${event.startedAt.toISOString().replace(/[:.]/g, '-')}.jpg`,
          contentType: 'image/jpeg',
          content,
        };
      });
    } catch (err) {
      result = { ok: false, retry: true, error: (err as Error).message };
    }
    if (result.ok) return this.finish(d, 'delivered', channelRow.kind, null);
    const attempts = d.attempts;
    if (!result.retry || attempts >= (this.o.maxAttempts ?? 20))
      return this.finish(d, 'dead', channelRow.kind, result.error);
    const base = this.o.retryBaseMs ?? 2000;
    const backoff = Math.min(base * 2 ** (attempts - 1), this.o.retryMaxMs ?? 600_000);
    const wait = Math.max(result.retryAfterMs ?? 0, backoff * (0.8 + Math.random() * 0.4));
    await this.o.db.alertDelivery.update({
      where: { id: d.id },
      data: {
        nextAttemptAt: new Date(this.now().getTime() + wait),
        leaseUntil: null,
        lastError: result.error.slice(0, 500),
      },
    });
    this.o.onResult?.(channelRow.kind, 'retry');
    this.o.log.info(
      {
        delivery: d.id.toString(),
        channel: d.channelId,
        attempts,
        waitMs: Math.round(wait),
        error: result.error,
      },
      'alert delivery failed; trying again',
    );
  }

  private async finish(
    d: AlertDelivery,
    state: 'delivered' | 'dead',
    kind: string,
    error: string | null,
  ): Promise<void> {
    await this.o.db.alertDelivery.update({
      where: { id: d.id },
      data: {
        state,
        leaseUntil: null,
        ...(state === 'delivered' ? { deliveredAt: this.now() } : {}),
        ...(error ? { lastError: error.slice(0, 500) } : {}),
      },
    });
    this.o.onResult?.(kind, state);
    if (state === 'dead')
      this.o.log.warn(
        { delivery: d.id.toString(), channel: d.channelId, attempts: d.attempts, error },
        'alert delivery gave up: in the dead-letter list',
      );
  }

  private async notification(
    d: AlertDelivery,
    alert: Alert,
    event: EventRow | null,
    ref: SnapshotRef | null,
  ): Promise<AlertNotification> {
    return {
      id: d.idempotencyKey,
      type: d.phase === 'resolved' ? 'alert.resolved' : 'alert.raised',
      // When the delivery was made: every attempt sends the same bytes.
      sentAt: d.createdAt.toISOString(),
      alert: {
        id: alert.id.toString(),
        kind: alert.kind,
        severity: alert.severity as AlertNotification['alert']['severity'],
        message: alert.message,
        nodeId: alert.nodeId,
        cameraId: alert.cameraId,
        raisedAt: alert.raisedAt.toISOString(),
        resolvedAt: alert.resolvedAt?.toISOString() ?? null,
        ruleId: alert.ruleId,
        ruleName: alert.ruleId ? this.o.ruleName(alert.ruleId) : null,
      },
      event: event ? notificationEvent(event) : null,
      snapshotUrl: event && ref ? await this.o.snapshots.url(event.cameraId, ref, event, d.createdAt) : null,
    };
  }
}

/** The outbox as admins read it: the deliveries, the dead-letter list, a retry. */
export class DeliveryLog {
  constructor(
    private readonly db: PrismaClient,
    private readonly kick: () => void,
  ) {}

  async list(f: { state?: string; beforeId?: bigint; limit: number }): Promise<AlertDeliveryPage> {
    const rows = await this.db.alertDelivery.findMany({
      where: {
        ...(f.state ? { state: f.state } : {}),
        ...(f.beforeId !== undefined ? { id: { lt: f.beforeId } } : {}),
      },
      orderBy: { id: 'desc' },
      take: f.limit + 1,
    });
    const more = rows.length > f.limit;
    const page = rows.slice(0, f.limit);
    const deliveries = await this.views(page);
    return { deliveries, nextCursor: more ? (deliveries.at(-1)?.id ?? null) : null };
  }

  /** A dead delivery back in the outbox, due now, with its idempotency key. */
  async retry(id: bigint): Promise<AlertDeliveryView | 'unknown' | 'not_dead'> {
    const known = await this.db.alertDelivery.findUnique({ where: { id } });
    if (!known) return 'unknown';
    const rows = await this.db.alertDelivery.updateManyAndReturn({
      where: { id, state: 'dead' },
      data: { state: 'pending', nextAttemptAt: new Date(), leaseUntil: null, attempts: 0 },
    });
    if (!rows[0]) return 'not_dead';
    this.kick();
    const [view] = await this.views(rows);
    return view ?? 'unknown';
  }

  private async views(rows: AlertDelivery[]): Promise<AlertDeliveryView[]> {
    const [channels, alerts] = await Promise.all([
      this.db.notificationChannel.findMany({
        where: { id: { in: [...new Set(rows.map((r) => r.channelId))] } },
        select: { id: true, name: true, kind: true },
      }),
      this.db.alert.findMany({
        where: { id: { in: [...new Set(rows.map((r) => r.alertId))] } },
        select: { id: true, message: true },
      }),
    ]);
    const channel = new Map(channels.map((c) => [c.id, c]));
    const message = new Map(alerts.map((a) => [a.id, a.message]));
    return rows.map((r) => ({
      id: r.id.toString(),
      alertId: r.alertId.toString(),
      alertMessage: message.get(r.alertId) ?? '',
      channelId: r.channelId,
      channelName: channel.get(r.channelId)?.name ?? null,
      channelKind: channel.get(r.channelId)?.kind ?? null,
      phase: r.phase as AlertDeliveryView['phase'],
      idempotencyKey: r.idempotencyKey,
      state: r.state as AlertDeliveryView['state'],
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt.toISOString(),
      lastError: r.lastError,
      createdAt: r.createdAt.toISOString(),
      deliveredAt: r.deliveredAt?.toISOString() ?? null,
    }));
  }
}

/** Grant ranges of snapshots sent to receivers: the event, with a minute either side. */
export function snapshotRange(event: EventRow): { from: Date; to: Date } {
  return {
    from: new Date(event.startedAt.getTime() - 60_000),
    to: new Date((event.endedAt ?? event.lastAt).getTime() + 60_000),
  };
}
