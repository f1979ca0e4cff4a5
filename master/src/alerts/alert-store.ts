/**
 * Alerts and their delivery outbox in the database. Raising is idempotent by key: a condition
 * seen again while its alert stands bumps `count`; a moment (a detection, a security alert) is
 * raised once per key ever. The deliveries of a new or resolved alert are written in the same
 * transaction as the alert, so no alert is ever raised without its sends queued.
 */
import type { Alert, Prisma, PrismaClient } from '@cctv/db';
import type { AlertKind, AlertPage, AlertSeverity, AlertView, SessionUser } from '@cctv/protocol';

export type { Alert };

/** The rule an alert is raised for: where its sends go. */
export interface RaisingRule {
  id: string;
  name: string;
  severity: AlertSeverity;
  channels: string[];
}

export interface RaiseInput {
  rule: RaisingRule;
  kind: AlertKind;
  /** What it is about, e.g. `node_offline:<node>`; the rule id is added. */
  key: string;
  /** A moment: raised resolved, never raised again for its key. */
  moment?: boolean;
  nodeId?: string | null;
  cameraId?: string | null;
  eventId?: string | null;
  /** Users who see one of these cameras see the alert; empty: users who see every camera. */
  cameraIds: string[];
  adminOnly?: boolean;
  message: string;
  detail?: Record<string, unknown>;
}

export interface Raised {
  alert: Alert;
  /** false: it stood already (its count went up). */
  created: boolean;
}

export function toAlertView(a: Alert, ruleNames: ReadonlyMap<string, string>): AlertView {
  return {
    id: a.id.toString(),
    kind: a.kind as AlertKind,
    severity: a.severity as AlertSeverity,
    state: a.resolvedAt ? 'resolved' : 'open',
    ruleId: a.ruleId,
    ruleName: a.ruleId ? (ruleNames.get(a.ruleId) ?? null) : null,
    nodeId: a.nodeId,
    cameraId: a.cameraId,
    eventId: a.eventId,
    message: a.message,
    count: a.count,
    raisedAt: a.raisedAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
    resolvedAt: a.resolvedAt?.toISOString() ?? null,
    acknowledgedAt: a.acknowledgedAt?.toISOString() ?? null,
    acknowledgedBy: a.acknowledgedBy,
  };
}

/** Whether a user may see an alert: the same test as `visibleWhere`, in memory. */
export function userSeesAlert(user: SessionUser, a: Pick<Alert, 'adminOnly' | 'cameraIds'>): boolean {
  if (user.role === 'admin') return true;
  if (a.adminOnly) return false;
  if (user.cameras === 'all') return true;
  const mine = user.cameras as string[];
  return a.cameraIds.some((c) => mine.includes(c));
}

function visibleWhere(user: SessionUser): Prisma.AlertWhereInput {
  if (user.role === 'admin') return {};
  if (user.cameras === 'all') return { adminOnly: false };
  return { adminOnly: false, cameraIds: { hasSome: user.cameras as string[] } };
}

export interface AlertFilter {
  state?: 'open' | 'resolved';
  acknowledged?: boolean;
  kind?: string;
  severity?: string;
  nodeId?: string;
  cameraId?: string;
  beforeId?: bigint;
  limit: number;
}

/** `a<alert>-<phase>`: the same on every attempt and every channel of one alert's raise or end. */
export const idempotencyKey = (alertId: bigint, phase: 'raised' | 'resolved'): string =>
  `a${alertId}-${phase}`;

export class AlertStore {
  constructor(
    private readonly db: PrismaClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Raises (or repeats) an alert; a new one gets its deliveries queued with it. */
  async raise(input: RaiseInput): Promise<Raised> {
    const key = `${input.rule.id}:${input.key}`;
    const at = this.now();
    return this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<(Alert & { inserted: boolean })[]>`
        INSERT INTO "Alert" ("ruleId", kind, severity, key, "openKey", "nodeId", "cameraId", "eventId",
          "cameraIds", "adminOnly", message, detail, "raisedAt", "updatedAt", "resolvedAt")
        VALUES (${input.rule.id}, ${input.kind}, ${input.rule.severity}, ${key}, ${key},
          ${input.nodeId ?? null}, ${input.cameraId ?? null}, ${input.eventId ?? null},
          ${input.cameraIds}::text[], ${input.adminOnly ?? false}, ${input.message},
          ${input.detail ? JSON.stringify(input.detail) : null}::jsonb, ${at}, ${at},
          ${input.moment ? at : null})
        ON CONFLICT ("openKey") DO UPDATE SET count = "Alert".count + 1, "updatedAt" = EXCLUDED."updatedAt"
        RETURNING *, (xmax = 0) AS inserted`;
      const row = rows[0];
      if (!row) throw new Error('alert not written');
      const { inserted, ...alert } = row;
      if (inserted) await this.queue(tx, alert.id, 'raised', input.rule.channels);
      return { alert, created: inserted };
    });
  }

  /** Resolves the standing alert of a rule and key; null when none stands. */
  async resolve(rule: RaisingRule, key: string, message?: string): Promise<Alert | null> {
    const at = this.now();
    return this.db.$transaction(async (tx) => {
      const rows = await tx.alert.updateManyAndReturn({
        where: { openKey: `${rule.id}:${key}`, resolvedAt: null },
        data: { resolvedAt: at, updatedAt: at, openKey: null, ...(message ? { message } : {}) },
      });
      const alert = rows[0];
      if (!alert) return null;
      await this.queue(tx, alert.id, 'resolved', rule.channels);
      return alert;
    });
  }

  /** Keys of every standing (not resolved) condition alert, for the engine to pick up at start. */
  async standing(): Promise<{ ruleId: string | null; key: string }[]> {
    return this.db.alert.findMany({
      where: { resolvedAt: null, openKey: { not: null } },
      select: { ruleId: true, key: true },
    });
  }

  /** The newest alert of a rule and key prefix at or after `since` (a detection cooldown). */
  async lastRaised(ruleId: string, keyPrefix: string): Promise<Date | null> {
    const row = await this.db.alert.findFirst({
      where: { ruleId, key: { startsWith: `${ruleId}:${keyPrefix}` } },
      orderBy: { raisedAt: 'desc' },
      select: { raisedAt: true },
    });
    return row?.raisedAt ?? null;
  }

  async list(user: SessionUser, f: AlertFilter, ruleNames: ReadonlyMap<string, string>): Promise<AlertPage> {
    const where: Prisma.AlertWhereInput = {
      ...visibleWhere(user),
      ...(f.state === 'open'
        ? { resolvedAt: null }
        : f.state === 'resolved'
          ? { resolvedAt: { not: null } }
          : {}),
      ...(f.acknowledged === true
        ? { acknowledgedAt: { not: null } }
        : f.acknowledged === false
          ? { acknowledgedAt: null }
          : {}),
      ...(f.kind ? { kind: f.kind } : {}),
      ...(f.severity ? { severity: f.severity } : {}),
      ...(f.nodeId ? { nodeId: f.nodeId } : {}),
      ...(f.cameraId ? { cameraId: f.cameraId } : {}),
    };
    const [rows, unacknowledged] = await Promise.all([
      this.db.alert.findMany({
        where: { ...where, ...(f.beforeId !== undefined ? { id: { lt: f.beforeId } } : {}) },
        orderBy: { id: 'desc' },
        take: f.limit + 1,
      }),
      this.db.alert.count({ where: { ...where, acknowledgedAt: null } }),
    ]);
    const more = rows.length > f.limit;
    const alerts = rows.slice(0, f.limit).map((r) => toAlertView(r, ruleNames));
    return { alerts, unacknowledged, nextCursor: more ? (alerts.at(-1)?.id ?? null) : null };
  }

  async get(id: bigint): Promise<Alert | null> {
    return this.db.alert.findUnique({ where: { id } });
  }

  /** Acknowledges the alerts of `ids` (or all) the user sees and nobody acknowledged yet. */
  async acknowledge(user: SessionUser, ids: bigint[] | null): Promise<Alert[]> {
    const at = this.now();
    return this.db.alert.updateManyAndReturn({
      where: { ...visibleWhere(user), acknowledgedAt: null, ...(ids ? { id: { in: ids } } : {}) },
      data: { acknowledgedAt: at, acknowledgedBy: user.username },
    });
  }

  /** Old alerts that ended long ago, and their deliveries, go; standing ones stay. */
  async prune(olderThan: Date): Promise<number> {
    const old = await this.db.alert.findMany({
      where: { resolvedAt: { lt: olderThan } },
      select: { id: true },
      take: 5000,
    });
    if (old.length === 0) return 0;
    const ids = old.map((o) => o.id);
    await this.db.$transaction([
      this.db.alertDelivery.deleteMany({ where: { alertId: { in: ids } } }),
      this.db.alert.deleteMany({ where: { id: { in: ids } } }),
    ]);
    return ids.length;
  }

  private async queue(
    tx: Prisma.TransactionClient,
    alertId: bigint,
    phase: 'raised' | 'resolved',
    channels: string[],
  ): Promise<void> {
    if (channels.length === 0) return;
    // Only channels that exist and are enabled now; a rule may name one removed meanwhile.
    const enabled = await tx.notificationChannel.findMany({
      where: { id: { in: channels }, enabled: true },
      select: { id: true },
    });
    if (enabled.length === 0) return;
    await tx.alertDelivery.createMany({
      data: enabled.map((c) => ({
        alertId,
        channelId: c.id,
        phase,
        idempotencyKey: idempotencyKey(alertId, phase),
        nextAttemptAt: this.now(),
      })),
      skipDuplicates: true,
    });
  }
}
