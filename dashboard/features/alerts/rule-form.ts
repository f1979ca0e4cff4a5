/**
 * An alert rule as its form edits it (strings, as inputs hold them) and the master's input
 * made from it, with the reason it cannot be sent yet. Pure, so the settings page only renders
 * the fields of the chosen kind.
 */
import type { AlertRuleInput, AlertRuleParams, AlertRuleView, SecurityAlertKind } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';
import { isValidId, ZONE_NAME_PATTERN } from '@cctv/protocol/patterns';

type Kind = AlertRuleParams['kind'];
type Severity = AlertRuleInput['severity'];
type EventType = 'motion' | 'face';

export const EVENT_TYPES: readonly EventType[] = ['motion', 'face'];

/** The security alert kinds a security rule may choose from, read from the rules' contract. */
export const SECURITY_KINDS: readonly SecurityAlertKind[] = (() => {
  const params = masterRoutes.alertRuleCreate.body.properties.params.anyOf as readonly {
    properties: { kind: { const: string }; kinds?: { items: { anyOf: readonly { const: string }[] } } };
  }[];
  const security = params.find((p) => p.properties.kind.const === 'security');
  return (security?.properties.kinds?.items.anyOf ?? []).map((k) => k.const as SecurityAlertKind);
})();

/** The numbers a kind asks for: label, bounds, and how the input maps to the master's value. */
export interface NumberField {
  key: string;
  label: string;
  min: number;
  max: number;
  integer: boolean;
  /** The master's field, when the input is in other units (GiB for bytes). */
  param?: string;
  scale?: number;
}

const AFTER: NumberField = {
  key: 'afterS',
  label: 'After (seconds)',
  min: 0,
  max: 7 * 86_400,
  integer: true,
};
const GIB = 1024 ** 3;

export const NUMBER_FIELDS: Record<Kind, readonly NumberField[]> = {
  detection: [
    { key: 'minScore', label: 'Minimum score (0–1)', min: 0, max: 1, integer: false },
    { key: 'cooldownS', label: 'Cooldown per camera (seconds)', min: 0, max: 86_400, integer: true },
  ],
  node_offline: [AFTER],
  camera_down: [AFTER],
  disk_low: [
    { key: 'minFreePercent', label: 'Minimum free (%)', min: 0, max: 99, integer: false },
    {
      key: 'minFreeGiB',
      label: 'Minimum free (GiB)',
      min: 0,
      max: Number.MAX_SAFE_INTEGER / GIB,
      integer: false,
      param: 'minFreeBytes',
      scale: GIB,
    },
  ],
  nas_down: [AFTER],
  backlog: [
    { key: 'maxSegments', label: 'Most segments waiting', min: 0, max: 10_000_000, integer: true },
    AFTER,
  ],
  clock_skew: [
    { key: 'maxOffsetMs', label: 'Largest offset (ms)', min: 100, max: 86_400_000, integer: true },
  ],
  cert_expiry: [{ key: 'warnDays', label: 'Warn days before expiry', min: 1, max: 365, integer: true }],
  security: [],
};

const DEFAULT_NUMBERS: Record<string, string> = {
  minScore: '0',
  cooldownS: '60',
  afterS: '60',
  minFreePercent: '10',
  minFreeGiB: '1',
  maxSegments: '1000',
  maxOffsetMs: '10000',
  warnDays: '21',
};

export interface WindowDraft {
  /** 0 = Sunday … 6 = Saturday. */
  days: number[];
  from: string;
  to: string;
}

export interface RuleDraft {
  name: string;
  enabled: boolean;
  severity: Severity;
  channels: string[];
  kind: Kind;
  numbers: Record<string, string>;
  eventTypes: EventType[];
  cameras: string[];
  /** Zone names, one per line or comma-separated. */
  zones: string;
  /** Node ids, one per line or comma-separated; empty: all. */
  nodes: string;
  includeStale: boolean;
  securityKinds: SecurityAlertKind[];
  /** null: always. */
  schedule: { timeZone: string; windows: WindowDraft[] } | null;
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export const newWindow = (): WindowDraft => ({ days: [1, 2, 3, 4, 5], from: '22:00', to: '06:00' });

/** The form of an existing rule, or of a new one (a schedule takes the browser's time zone when ticked). */
export function ruleDraft(view: AlertRuleView | null): RuleDraft {
  const draft: RuleDraft = {
    name: view?.name ?? '',
    enabled: view?.enabled ?? true,
    severity: view?.severity ?? 'warning',
    channels: view ? [...view.channels] : [],
    kind: view?.params.kind ?? 'detection',
    numbers: { ...DEFAULT_NUMBERS },
    eventTypes: ['motion'],
    cameras: [],
    zones: '',
    nodes: '',
    includeStale: true,
    securityKinds: [],
    schedule: null,
  };
  if (!view) return draft;
  const p = view.params as Record<string, unknown>;
  for (const f of NUMBER_FIELDS[view.params.kind]) {
    const v = p[f.param ?? f.key];
    if (typeof v === 'number') draft.numbers[f.key] = String(f.scale ? v / f.scale : v);
  }
  switch (view.params.kind) {
    case 'detection':
      draft.eventTypes = [...view.params.eventTypes];
      draft.cameras = [...view.params.cameras];
      draft.zones = view.params.zones.join(', ');
      draft.schedule = view.params.schedule
        ? {
            timeZone: view.params.schedule.timeZone,
            windows: view.params.schedule.windows.map((w) => ({ ...w, days: [...w.days] })),
          }
        : null;
      break;
    case 'node_offline':
      draft.nodes = view.params.nodes.join(', ');
      draft.includeStale = view.params.includeStale;
      break;
    case 'camera_down':
      draft.cameras = [...view.params.cameras];
      break;
    case 'security':
      draft.securityKinds = [...view.params.kinds];
      break;
  }
  return draft;
}

/** A list typed into one field: split on commas and new lines, trimmed, without repeats. */
export function listOf(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,\n]/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

const CLOCK = /^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;
const ZONE = new RegExp(ZONE_NAME_PATTERN);

/** The master's input for the form, or why it cannot be sent. */
export function ruleInput(d: RuleDraft): { input: AlertRuleInput } | { problem: string } {
  const name = d.name.trim();
  if (!name) return { problem: 'a rule needs a name' };
  if (name.length > 100) return { problem: 'the name is longer than 100 characters' };
  const numbers: Record<string, number> = {};
  for (const f of NUMBER_FIELDS[d.kind]) {
    const raw = (d.numbers[f.key] ?? '').trim();
    const n = Number(raw);
    if (raw === '' || !Number.isFinite(n) || n < f.min || n > f.max || (f.integer && !Number.isInteger(n)))
      return {
        problem: `${f.label}: ${f.integer ? 'a whole number' : 'a number'} from ${f.min} to ${f.max}`,
      };
    numbers[f.param ?? f.key] = f.scale ? Math.round(n * f.scale) : n;
  }
  let params: AlertRuleParams;
  switch (d.kind) {
    case 'detection': {
      if (d.eventTypes.length === 0) return { problem: 'choose at least one event type' };
      const zones = listOf(d.zones);
      const bad = zones.find((z) => !ZONE.test(z));
      if (bad !== undefined) return { problem: `"${bad}" is not a zone name` };
      let schedule: AlertSchedule | null = null;
      if (d.schedule) {
        const timeZone = d.schedule.timeZone.trim();
        if (!/^[A-Za-z0-9_+/-]{1,64}$/.test(timeZone)) return { problem: 'the schedule needs a time zone' };
        if (d.schedule.windows.length === 0) return { problem: 'the schedule needs at least one window' };
        for (const w of d.schedule.windows) {
          if (w.days.length === 0) return { problem: 'each schedule window needs at least one day' };
          if (!CLOCK.test(w.from) || !CLOCK.test(w.to)) return { problem: 'times are HH:MM, 00:00 to 24:00' };
        }
        schedule = {
          timeZone,
          windows: d.schedule.windows.map((w) => ({
            days: [...new Set(w.days)].sort((a, b) => a - b),
            from: w.from,
            to: w.to,
          })),
        };
      }
      params = {
        kind: 'detection',
        eventTypes: [...d.eventTypes],
        cameras: [...d.cameras],
        zones,
        minScore: numbers.minScore as number,
        schedule,
        cooldownS: numbers.cooldownS as number,
      };
      break;
    }
    case 'node_offline': {
      const nodes = listOf(d.nodes);
      const bad = nodes.find((n) => !isValidId(n));
      if (bad !== undefined) return { problem: `"${bad}" is not a node id` };
      params = {
        kind: 'node_offline',
        nodes,
        afterS: numbers.afterS as number,
        includeStale: d.includeStale,
      };
      break;
    }
    case 'camera_down':
      params = { kind: 'camera_down', cameras: [...d.cameras], afterS: numbers.afterS as number };
      break;
    case 'disk_low':
      params = {
        kind: 'disk_low',
        minFreePercent: numbers.minFreePercent as number,
        minFreeBytes: numbers.minFreeBytes as number,
      };
      break;
    case 'nas_down':
      params = { kind: 'nas_down', afterS: numbers.afterS as number };
      break;
    case 'backlog':
      params = {
        kind: 'backlog',
        maxSegments: numbers.maxSegments as number,
        afterS: numbers.afterS as number,
      };
      break;
    case 'clock_skew':
      params = { kind: 'clock_skew', maxOffsetMs: numbers.maxOffsetMs as number };
      break;
    case 'cert_expiry':
      params = { kind: 'cert_expiry', warnDays: numbers.warnDays as number };
      break;
    case 'security':
      params = { kind: 'security', kinds: [...d.securityKinds] };
      break;
  }
  return { input: { name, enabled: d.enabled, severity: d.severity, params, channels: [...d.channels] } };
}

type AlertSchedule = Extract<AlertRuleParams, { kind: 'detection' }>['schedule'] & object;

/** A rule's parameters in a few words, for the rules list. */
export function ruleSummary(params: AlertRuleParams): string {
  const all = (list: readonly string[], what: string) => (list.length ? list.join(', ') : `all ${what}`);
  switch (params.kind) {
    case 'detection': {
      const parts = [
        params.eventTypes.join('/'),
        all(params.cameras, 'cameras'),
        params.zones.length ? `zones ${params.zones.join(', ')}` : null,
        params.minScore > 0 ? `score ≥ ${params.minScore}` : null,
        params.schedule ? `scheduled (${params.schedule.timeZone})` : null,
        `cooldown ${params.cooldownS}s`,
      ];
      return parts.filter(Boolean).join(' · ');
    }
    case 'node_offline':
      return `${all(params.nodes, 'nodes')} · after ${params.afterS}s${params.includeStale ? ' · also stale' : ''}`;
    case 'camera_down':
      return `${all(params.cameras, 'cameras')} · after ${params.afterS}s`;
    case 'disk_low':
      return `below ${params.minFreePercent}% or ${(params.minFreeBytes / GIB).toFixed(1)} GiB free`;
    case 'nas_down':
      return `after ${params.afterS}s`;
    case 'backlog':
      return `over ${params.maxSegments} segments for ${params.afterS}s`;
    case 'clock_skew':
      return `offset over ${params.maxOffsetMs} ms`;
    case 'cert_expiry':
      return `${params.warnDays} days before expiry`;
    case 'security':
      return all(params.kinds, 'kinds');
  }
}
