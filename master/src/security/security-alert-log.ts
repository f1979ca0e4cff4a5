/**
 * Security alerts as admins read them: the page of `/api/security/alerts`, acknowledging one,
 * and the feed that pushes new and repeated alerts to the admins' dashboards. The rows are
 * written by `SecurityAlertRecorder` (`@cctv/db`), in the master and in the storage gateway, so
 * the feed reads the table rather than listening in-process: it sees the gateway's alerts too.
 */
import type { PrismaClient, SecurityAlert } from '@cctv/db';
import type { SecurityAlertKind, SecurityAlertPage, SecurityAlertView } from '@cctv/protocol';
import type { Logger } from 'pino';

const CHANGED_PAGE = 500;

export function toAlertView(r: SecurityAlert): SecurityAlertView {
  return {
    id: r.id.toString(),
    kind: r.kind as SecurityAlertKind,
    source: r.source,
    nodeId: r.nodeId,
    cameraId: r.cameraId,
    address: r.address,
    message: r.message,
    count: r.count,
    firstAt: r.firstAt.toISOString(),
    lastAt: r.lastAt.toISOString(),
    acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: r.acknowledgedBy,
  };
}

export class SecurityAlertLog {
  constructor(private readonly db: PrismaClient) {}

  /** Newest first by id; `beforeId` is the previous page's last id. */
  async list(f: { open?: boolean; beforeId?: bigint; limit: number }): Promise<SecurityAlertPage> {
    const rows = await this.db.securityAlert.findMany({
      where: {
        ...(f.open ? { acknowledgedAt: null } : {}),
        ...(f.beforeId !== undefined ? { id: { lt: f.beforeId } } : {}),
      },
      orderBy: { id: 'desc' },
      take: f.limit + 1,
    });
    const more = rows.length > f.limit;
    const alerts = rows.slice(0, f.limit).map(toAlertView);
    return { alerts, nextCursor: more ? (alerts.at(-1)?.id ?? null) : null };
  }

  /** Marks an alert seen; null when there is no such alert. */
  async acknowledge(id: bigint, username: string, at: Date): Promise<SecurityAlertView | null> {
    const found = await this.db.securityAlert.updateManyAndReturn({
      where: { id },
      data: { acknowledgedAt: at, acknowledgedBy: username },
    });
    return found[0] ? toAlertView(found[0]) : null;
  }

  /** Marks these alerts seen (those not yet), as acknowledging their alerts in `/api/alerts` does. */
  async acknowledgeMany(ids: bigint[], username: string, at: Date): Promise<number> {
    const done = await this.db.securityAlert.updateMany({
      where: { id: { in: ids }, acknowledgedAt: null },
      data: { acknowledgedAt: at, acknowledgedBy: username },
    });
    return done.count;
  }

  /** Alerts raised or repeated at or after `since`, oldest change first. */
  async changedSince(since: Date): Promise<SecurityAlert[]> {
    return this.db.securityAlert.findMany({
      where: { lastAt: { gte: since } },
      orderBy: { lastAt: 'asc' },
      take: CHANGED_PAGE,
    });
  }
}

/**
 * Polls for alerts raised or repeated since the last look while an admin's dashboard is
 * connected, and hands each changed one to `push` once per change.
 */
export class SecurityAlertFeed {
  private timer: NodeJS.Timeout | null = null;
  private since: Date;
  /** id → lastAt already pushed, for rows seen twice at the edge of the window. */
  private readonly pushed = new Map<string, number>();
  private polling = false;
  private readonly now: () => Date;

  constructor(
    private readonly opts: {
      log: SecurityAlertLog;
      wanted: () => boolean;
      push: (alert: SecurityAlertView) => void;
      logger: Logger;
      intervalMs?: number;
      now?: () => Date;
    },
  ) {
    this.now = opts.now ?? (() => new Date());
    this.since = this.lookback();
  }

  /**
   * Rows are stamped by the database's clock, which may differ a little from this one: the
   * window reaches a minute back, and `pushed` keeps a repeat from being pushed twice.
   */
  private lookback(): Date {
    return new Date(this.now().getTime() - 60_000);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async poll(): Promise<void> {
    if (this.polling) return;
    if (!this.opts.wanted()) {
      // Nobody to tell: what happens meanwhile is read from the API when a dashboard opens.
      this.since = this.lookback();
      return;
    }
    this.polling = true;
    try {
      const rows = await this.opts.log.changedSince(this.since);
      for (const r of rows) {
        const id = r.id.toString();
        if (this.pushed.get(id) === r.lastAt.getTime()) continue;
        this.pushed.set(id, r.lastAt.getTime());
        this.opts.push(toAlertView(r));
      }
      const newest = rows.at(-1)?.lastAt;
      const floor = this.lookback();
      // A full page moves on to its last row, so a burst larger than a page is read through.
      if (newest && newest > this.since)
        this.since = rows.length >= CHANGED_PAGE || newest < floor ? newest : floor;
      if (this.pushed.size > 5000) this.pushed.clear();
    } catch (err) {
      this.opts.logger.warn({ err }, 'security alerts not read; trying again');
    } finally {
      this.polling = false;
    }
  }
}
