/**
 * Raises and resolves alerts from the enabled rules. Detections are judged as events are
 * stored; conditions (a node offline, a camera down, a spool filling, a clock adrift, the NAS
 * failing, a certificate near its end) are judged every `intervalMs` from the fleet as the
 * database has it and from the gateway's health, and at once when node states change. A
 * condition's alert stands until the condition is seen to end: a subject not seen (a gateway
 * that does not answer) keeps its alert as it is.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PrismaClient } from '@cctv/db';
import type { AlertRuleParamsOf, NodeView } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { EventRow } from '../events/event-view.ts';
import type { AlertRule, AlertRuleRepository } from './alert-rules.ts';
import type { Alert, AlertStore, RaiseInput, RaisingRule } from './alert-store.ts';
import { inSchedule } from './schedule.ts';

/** What `/healthz` of the storage gateway says (HealthReport). */
export interface GatewayHealth {
  nas?: string;
  nasFailure?: string | null;
  backlog?: number;
  bufferFreeBytes?: number | null;
  bufferTotalBytes?: number | null;
  nasFreeBytes?: number | null;
  nasTotalBytes?: number | null;
}

export interface AlertEngineOptions {
  store: AlertStore;
  rules: AlertRuleRepository;
  db: PrismaClient;
  nodes: () => Promise<NodeView[]>;
  /** The gateway's health; null when it did not answer. */
  gatewayHealth: () => Promise<GatewayHealth | null>;
  /** Certificate files to watch (the master's TLS certificate, the CA). */
  certFiles: string[];
  /** Every raise, repeat, resolve: pushed to the dashboards that may see it. */
  onChange: (alert: Alert) => void;
  /** The fleet as each round read it (MQTT channels publish node and camera states). */
  onNodes?: (nodes: NodeView[]) => void;
  log: Logger;
  intervalMs?: number;
  now?: () => Date;
  /**
   * Whether this master judges conditions now (with several masters, the leader only:
   * docs/adr/0024); detection rules are judged by the master that stored the events. Default always.
   */
  judges?: () => boolean;
}

interface Observation {
  key: string;
  active: boolean;
  /** Since when the condition holds (for a rule's delay); the first time seen when unknown. */
  since?: Date;
  input: Omit<RaiseInput, 'rule' | 'key'>;
}

const CERT_CHECK_MS = 3600_000;
const SEEN_EVENTS = 10_000;

export class AlertEngine {
  private rules: AlertRule[] = [];
  private names = new Map<string, string>();
  private readonly standing = new Set<string>();
  /** Condition key → when it was first seen active (conditions the database has no time for). */
  private readonly activeSince = new Map<string, number>();
  /** Rule and camera → last detection alert (ms), for the cooldown. */
  private readonly lastDetection = new Map<string, number>();
  /** Rule and event ids alerted already (an event is stored again at each update). */
  private readonly alertedEvents = new Set<string>();
  private lastSecurityId: bigint | null = null;
  private certs: { file: string; notAfter: Date }[] = [];
  private certsReadAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private detections: Promise<void> = Promise.resolve();
  private readonly now: () => Date;

  constructor(private readonly o: AlertEngineOptions) {
    this.now = o.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    await this.o.rules.ensureBuiltIns();
    await this.reloadRules();
    for (const s of await this.o.store.standing()) this.standing.add(s.key);
    const newest = await this.o.db.securityAlert.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
    this.lastSecurityId = newest?.id ?? 0n;
    this.timer = setInterval(() => this.evaluate(), this.o.intervalMs ?? 5000);
    this.timer.unref();
    this.evaluate();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.detections;
  }

  async reloadRules(): Promise<void> {
    const all = await this.o.rules.list();
    this.rules = all.filter((r) => r.enabled);
    this.names = new Map(all.map((r) => [r.id, r.name]));
  }

  /** Every rule's name by id (alert views name their rule). */
  get ruleNames(): ReadonlyMap<string, string> {
    return this.names;
  }

  /**
   * This master has just become the one that judges conditions: what the previous one raised
   * and resolved meanwhile is read again, and security alerts are taken from the newest on.
   */
  async resume(): Promise<void> {
    await this.reloadRules();
    this.standing.clear();
    this.activeSince.clear();
    for (const s of await this.o.store.standing()) this.standing.add(s.key);
    const newest = await this.o.db.securityAlert.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
    this.lastSecurityId = newest?.id ?? 0n;
    void this.evaluate();
  }

  /** Judges the conditions now (coalesced: one run at a time, one more if asked meanwhile). */
  evaluate(): Promise<void> {
    if (this.o.judges?.() === false) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.evaluateConditions();
        } catch (err) {
          this.o.log.warn({ err }, 'alert conditions not judged; trying again');
        }
      } while (this.again && this.timer);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stored events (new and updated): detection rules, in the order they were stored. */
  eventsStored(rows: EventRow[]): Promise<void> {
    this.detections = this.detections
      .then(() => this.judgeEvents(rows))
      .catch((err) => this.o.log.warn({ err }, 'detection alerts not judged'));
    return this.detections;
  }

  private async judgeEvents(rows: EventRow[]): Promise<void> {
    for (const rule of this.rules) {
      if (rule.kind !== 'detection') continue;
      const p = rule.params as unknown as AlertRuleParamsOf<'detection'>;
      for (const row of rows) {
        const seen = `${rule.id}|${row.id}`;
        if (this.alertedEvents.has(seen)) continue;
        if (!p.eventTypes.includes(row.type as 'motion' | 'face')) continue;
        if (p.cameras.length > 0 && !p.cameras.includes(row.cameraId)) continue;
        const zones = row.zones ?? [];
        if (p.zones.length > 0 && !p.zones.some((z) => zones.includes(z))) continue;
        if (row.score < p.minScore) continue;
        if (!inSchedule(p.schedule, row.startedAt)) continue;
        const cooling = `${rule.id}|${row.cameraId}`;
        let last = this.lastDetection.get(cooling);
        if (last === undefined) {
          last = (await this.o.store.lastRaised(rule.id, `event:${row.cameraId}:`))?.getTime() ?? 0;
          this.lastDetection.set(cooling, last);
        }
        const at = this.now().getTime();
        if (at - last < p.cooldownS * 1000) continue;
        this.lastDetection.set(cooling, at);
        this.alertedEvents.add(seen);
        if (this.alertedEvents.size > SEEN_EVENTS) this.alertedEvents.clear();
        const score = Math.round(row.score * 100);
        await this.raise(rule, `event:${row.cameraId}:${row.id}`, {
          kind: 'detection',
          moment: true,
          nodeId: row.nodeId,
          cameraId: row.cameraId,
          eventId: row.id,
          cameraIds: [row.cameraId],
          message: `${row.type} on camera ${row.cameraId} (node ${row.nodeId}), score ${score}%${zones.length > 0 ? `, zones ${zones.join(', ')}` : ''}`,
          detail: { type: row.type, score: row.score, zones, startedAt: row.startedAt.toISOString() },
        });
      }
    }
  }

  private async evaluateConditions(): Promise<void> {
    const rules = this.rules;
    const byKind = (k: string) => rules.filter((r) => r.kind === k);
    const needsNodes = rules.some((r) =>
      ['node_offline', 'camera_down', 'disk_low', 'clock_skew'].includes(r.kind),
    );
    const nodes = needsNodes || this.o.onNodes ? await this.o.nodes() : [];
    this.o.onNodes?.(nodes);
    const needsGateway = rules.some((r) => ['nas_down', 'backlog', 'disk_low'].includes(r.kind));
    const health = needsGateway ? await this.o.gatewayHealth() : null;
    const now = this.now();

    const observed = new Map<string, { rule: AlertRule; obs: Observation[] }>();
    for (const rule of rules) observed.set(rule.id, { rule, obs: [] });
    const add = (rule: AlertRule, o: Observation) => observed.get(rule.id)?.obs.push(o);

    for (const rule of byKind('node_offline')) {
      const p = rule.params as unknown as AlertRuleParamsOf<'node_offline'>;
      for (const n of nodes) {
        if (p.nodes.length > 0 && !p.nodes.includes(n.id)) continue;
        const down = n.state === 'offline' || (p.includeStale && n.state === 'stale');
        add(rule, {
          key: `node:${n.id}`,
          active: down,
          since: new Date(n.stateChangedAt),
          input: {
            kind: 'node_offline',
            nodeId: n.id,
            cameraIds: n.cameras.map((c) => c.id),
            message: `node ${n.id} is ${n.state}${n.lastSeenAt ? ` (last seen ${n.lastSeenAt})` : ''}`,
            detail: { state: n.state, lastSeenAt: n.lastSeenAt },
          },
        });
      }
    }
    for (const rule of byKind('camera_down')) {
      const p = rule.params as unknown as AlertRuleParamsOf<'camera_down'>;
      for (const n of nodes) {
        // An offline node says nothing of its cameras: its own alert covers them.
        if (n.state !== 'online' || !n.heartbeat) continue;
        for (const c of n.heartbeat.cameras) {
          if (p.cameras.length > 0 && !p.cameras.includes(c.id)) continue;
          add(rule, {
            key: `camera:${c.id}`,
            active: c.state === 'failed' || c.state === 'reconnecting',
            input: {
              kind: 'camera_down',
              nodeId: n.id,
              cameraId: c.id,
              cameraIds: [c.id],
              message: `camera ${c.id} on node ${n.id} is ${c.state}${c.reason ? `: ${c.reason}` : ''}`,
              detail: { state: c.state, reason: c.reason ?? null },
            },
          });
        }
      }
    }
    for (const rule of byKind('disk_low')) {
      const p = rule.params as unknown as AlertRuleParamsOf<'disk_low'>;
      for (const n of nodes) {
        const d = n.heartbeat?.disk;
        if (!d || n.state === 'offline') continue;
        const total = d.spoolTotalBytes ?? null;
        const percent = total ? (d.spoolFreeBytes / total) * 100 : null;
        const low = d.spoolFreeBytes < p.minFreeBytes || (percent !== null && percent < p.minFreePercent);
        add(rule, {
          key: `spool:${n.id}`,
          active: low,
          input: {
            kind: 'disk_low',
            nodeId: n.id,
            cameraIds: n.cameras.map((c) => c.id),
            message: `the spool of node ${n.id} has ${formatBytes(d.spoolFreeBytes)} free${percent !== null ? ` (${percent.toFixed(1)} %)` : ''}`,
            detail: { freeBytes: d.spoolFreeBytes, totalBytes: total },
          },
        });
      }
    }
    for (const rule of byKind('clock_skew')) {
      const p = rule.params as unknown as AlertRuleParamsOf<'clock_skew'>;
      for (const n of nodes) {
        const clock = n.heartbeat?.clock;
        if (!clock || n.state === 'offline') continue;
        add(rule, {
          key: `clock:${n.id}`,
          active: Math.abs(clock.offsetMs) > p.maxOffsetMs,
          input: {
            kind: 'clock_skew',
            nodeId: n.id,
            cameraIds: n.cameras.map((c) => c.id),
            message: `the clock of node ${n.id} is ${formatOffset(clock.offsetMs)} from the master's`,
            detail: { offsetMs: clock.offsetMs },
          },
        });
      }
    }
    if (health) {
      for (const rule of byKind('nas_down'))
        add(rule, {
          key: 'nas',
          active: health.nas !== undefined && health.nas !== 'ok',
          input: {
            kind: 'nas_down',
            cameraIds: [],
            message: `the NAS fails${health.nasFailure ? ` (${health.nasFailure})` : ''}: segments stay in the gateway's buffer`,
            detail: { nas: health.nas, failure: health.nasFailure ?? null, backlog: health.backlog ?? null },
          },
        });
      for (const rule of byKind('disk_low')) {
        const p = rule.params as unknown as AlertRuleParamsOf<'disk_low'>;
        for (const [key, what, free, total] of [
          ['buffer', "the storage gateway's buffer", health.bufferFreeBytes, health.bufferTotalBytes],
          ['nas-space', 'the NAS', health.nasFreeBytes, health.nasTotalBytes],
        ] as const) {
          if (typeof free !== 'number') continue;
          const percent = typeof total === 'number' && total > 0 ? (free / total) * 100 : null;
          add(rule, {
            key,
            active: free < p.minFreeBytes || (percent !== null && percent < p.minFreePercent),
            input: {
              kind: 'disk_low',
              cameraIds: [],
              message: `${what} has ${formatBytes(free)} free${percent !== null ? ` (${percent.toFixed(1)} %)` : ''}`,
              detail: { freeBytes: free, totalBytes: total ?? null },
            },
          });
        }
      }
      for (const rule of byKind('backlog')) {
        const p = rule.params as unknown as AlertRuleParamsOf<'backlog'>;
        add(rule, {
          key: 'backlog',
          active: (health.backlog ?? 0) > p.maxSegments,
          input: {
            kind: 'backlog',
            cameraIds: [],
            message: `${health.backlog ?? 0} segments wait for the NAS (limit ${p.maxSegments})`,
            detail: { backlog: health.backlog ?? null },
          },
        });
      }
    }
    const certRules = byKind('cert_expiry');
    if (certRules.length > 0) {
      for (const c of await this.certificates()) {
        for (const rule of certRules) {
          const p = rule.params as unknown as AlertRuleParamsOf<'cert_expiry'>;
          const daysLeft = (c.notAfter.getTime() - now.getTime()) / 86_400_000;
          add(rule, {
            key: `cert:${c.file}`,
            active: daysLeft < p.warnDays,
            input: {
              kind: 'cert_expiry',
              cameraIds: [],
              adminOnly: true,
              message: `the certificate ${c.file} ${daysLeft < 0 ? 'expired' : 'expires'} on ${c.notAfter.toISOString()} (${Math.floor(daysLeft)} days)`,
              detail: { file: c.file, notAfter: c.notAfter.toISOString() },
            },
          });
        }
      }
    }

    for (const { rule, obs } of observed.values()) {
      const delayS = (rule.params as { afterS?: number }).afterS ?? 0;
      for (const o of obs) {
        const key = `${rule.id}:${o.key}`;
        if (!o.active) {
          this.activeSince.delete(key);
          if (this.standing.has(key)) await this.resolve(rule, o.key);
          continue;
        }
        let since = o.since?.getTime();
        if (since === undefined) {
          since = this.activeSince.get(key) ?? now.getTime();
          this.activeSince.set(key, since);
        }
        if (!this.standing.has(key) && now.getTime() - since >= delayS * 1000)
          await this.raise(rule, o.key, o.input);
      }
    }
    // A rule disabled or removed: its standing alerts end.
    for (const key of [...this.standing]) {
      const ruleId = key.slice(0, key.indexOf(':'));
      if (rules.some((r) => r.id === ruleId)) continue;
      const rule = await this.o.rules.get(ruleId);
      this.standing.delete(key);
      const resolved = await this.o.store.resolve(
        rule ? raisingRule(rule) : { id: ruleId, name: ruleId, severity: 'info', channels: [] },
        key.slice(ruleId.length + 1),
      );
      if (resolved) this.o.onChange(resolved);
    }
    await this.judgeSecurity();
  }

  private async judgeSecurity(): Promise<void> {
    if (this.lastSecurityId === null) return;
    const rows = await this.o.db.securityAlert.findMany({
      where: { id: { gt: this.lastSecurityId } },
      orderBy: { id: 'asc' },
      take: 500,
    });
    for (const row of rows) {
      this.lastSecurityId = row.id;
      for (const rule of this.rules) {
        if (rule.kind !== 'security') continue;
        const p = rule.params as unknown as AlertRuleParamsOf<'security'>;
        if (p.kinds.length > 0 && !(p.kinds as string[]).includes(row.kind)) continue;
        await this.raise(rule, `security:${row.id}`, {
          kind: 'security',
          moment: true,
          nodeId: row.nodeId,
          cameraId: row.cameraId,
          cameraIds: row.cameraId ? [row.cameraId] : [],
          adminOnly: true,
          message: `${row.kind}: ${row.message}`,
          detail: { securityAlertId: row.id.toString(), kind: row.kind, source: row.source },
        });
      }
    }
  }

  private async certificates(): Promise<{ file: string; notAfter: Date }[]> {
    if (Date.now() - this.certsReadAt < CERT_CHECK_MS) return this.certs;
    this.certsReadAt = Date.now();
    const found: { file: string; notAfter: Date }[] = [];
    for (const file of this.o.certFiles) {
      try {
        found.push({ file, notAfter: new Date(new X509Certificate(await readFile(file)).validTo) });
      } catch (err) {
        this.o.log.warn({ err, file }, 'certificate not read for its expiry');
      }
    }
    this.certs = found;
    return found;
  }

  private async raise(rule: AlertRule, key: string, input: Omit<RaiseInput, 'rule' | 'key'>): Promise<void> {
    const { alert, created } = await this.o.store.raise({ ...input, rule: raisingRule(rule), key });
    if (!input.moment) this.standing.add(`${rule.id}:${key}`);
    if (created) this.o.log.info({ alert: alert.id.toString(), kind: alert.kind, key }, alert.message);
    this.o.onChange(alert);
  }

  private async resolve(rule: AlertRule, key: string): Promise<void> {
    this.standing.delete(`${rule.id}:${key}`);
    const alert = await this.o.store.resolve(raisingRule(rule), key);
    if (!alert) return;
    this.o.log.info({ alert: alert.id.toString(), kind: alert.kind, key }, 'alert resolved');
    this.o.onChange(alert);
  }
}

export function raisingRule(r: AlertRule): RaisingRule {
  return { id: r.id, name: r.name, severity: r.severity as RaisingRule['severity'], channels: r.channels };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

function formatOffset(ms: number): string {
  return `${ms >= 0 ? '+' : '−'}${(Math.abs(ms) / 1000).toFixed(1)} s`;
}
