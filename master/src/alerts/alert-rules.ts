/**
 * Alert rules in the database: the built-in ones made at first start (an admin may change or
 * disable them, not delete them), and those admins add. The engine keeps the enabled ones in
 * memory and is told to read them again after every change.
 */
import type { AlertRule, PrismaClient } from '@cctv/db';
import type {
  AlertKind,
  AlertRuleInput,
  AlertRuleParams,
  AlertRuleView,
  AlertSeverity,
} from '@cctv/protocol';
import { isTimeZone } from './schedule.ts';

export type { AlertRule };

/** The rules every master starts with; ids are stable so an upgrade adds only what is missing. */
export const BUILT_IN_RULES: {
  id: string;
  name: string;
  severity: AlertSeverity;
  params: AlertRuleParams;
}[] = [
  {
    id: 'detections',
    name: 'Every detection',
    severity: 'info',
    params: {
      kind: 'detection',
      eventTypes: ['motion', 'face'],
      cameras: [],
      zones: [],
      minScore: 0,
      schedule: null,
      cooldownS: 60,
    },
  },
  {
    id: 'node-offline',
    name: 'Node offline',
    severity: 'critical',
    params: { kind: 'node_offline', nodes: [], afterS: 30, includeStale: true },
  },
  {
    id: 'camera-down',
    name: 'Camera down',
    severity: 'warning',
    params: { kind: 'camera_down', cameras: [], afterS: 300 },
  },
  {
    id: 'disk-low',
    name: 'Disk space low',
    severity: 'warning',
    params: { kind: 'disk_low', minFreePercent: 10, minFreeBytes: 1024 ** 3 },
  },
  { id: 'nas-down', name: 'NAS down', severity: 'critical', params: { kind: 'nas_down', afterS: 120 } },
  {
    id: 'backlog',
    name: 'NAS backlog growing',
    severity: 'warning',
    params: { kind: 'backlog', maxSegments: 1000, afterS: 300 },
  },
  {
    id: 'clock-skew',
    name: 'Clock skew',
    severity: 'warning',
    params: { kind: 'clock_skew', maxOffsetMs: 10_000 },
  },
  {
    id: 'cert-expiry',
    name: 'Certificate expiring',
    severity: 'warning',
    params: { kind: 'cert_expiry', warnDays: 21 },
  },
  { id: 'security', name: 'Security', severity: 'critical', params: { kind: 'security', kinds: [] } },
];

export function toRuleView(r: AlertRule): AlertRuleView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as AlertKind,
    enabled: r.enabled,
    severity: r.severity as AlertSeverity,
    // Written only from validated input.
    params: r.params as unknown as AlertRuleParams,
    channels: r.channels,
    builtIn: r.builtIn,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    createdBy: r.createdBy,
  };
}

/** What the schema cannot say; null when the input is fine. */
export function ruleInputProblem(input: AlertRuleInput, knownChannels: ReadonlySet<string>): string | null {
  const p = input.params;
  if (p.kind === 'detection' && p.schedule && !isTimeZone(p.schedule.timeZone))
    return `unknown time zone ${p.schedule.timeZone}`;
  const unknown = input.channels.filter((c) => !knownChannels.has(c));
  if (unknown.length > 0) return `unknown channel ${unknown.join(', ')}`;
  return null;
}

export class AlertRuleRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Adds the built-in rules a database lacks (first start, or an upgrade that brings one). */
  async ensureBuiltIns(): Promise<void> {
    await this.db.alertRule.createMany({
      data: BUILT_IN_RULES.map((r) => ({
        id: r.id,
        name: r.name,
        kind: r.params.kind,
        severity: r.severity,
        params: r.params,
        channels: [],
        builtIn: true,
        createdBy: 'master',
      })),
      skipDuplicates: true,
    });
  }

  list(): Promise<AlertRule[]> {
    return this.db.alertRule.findMany({ orderBy: [{ builtIn: 'desc' }, { createdAt: 'asc' }] });
  }

  get(id: string): Promise<AlertRule | null> {
    return this.db.alertRule.findUnique({ where: { id } });
  }

  create(id: string, input: AlertRuleInput, by: string): Promise<AlertRule> {
    return this.db.alertRule.create({
      data: { id, ...this.fields(input), createdBy: by },
    });
  }

  /** null when there is no such rule. */
  async update(id: string, input: AlertRuleInput): Promise<AlertRule | null> {
    const rows = await this.db.alertRule.updateManyAndReturn({ where: { id }, data: this.fields(input) });
    return rows[0] ?? null;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.alertRule.deleteMany({ where: { id, builtIn: false } })).count > 0;
  }

  /** Drops a removed channel from every rule that named it. */
  async forgetChannel(channelId: string): Promise<void> {
    const rules = await this.db.alertRule.findMany({ where: { channels: { has: channelId } } });
    for (const r of rules)
      await this.db.alertRule.update({
        where: { id: r.id },
        data: { channels: r.channels.filter((c) => c !== channelId) },
      });
  }

  private fields(input: AlertRuleInput) {
    return {
      name: input.name,
      kind: input.params.kind,
      enabled: input.enabled,
      severity: input.severity,
      params: input.params,
      channels: input.channels,
    };
  }
}
