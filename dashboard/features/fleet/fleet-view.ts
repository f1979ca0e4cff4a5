/**
 * Which nodes the fleet table shows and in what order: a text filter (node, host, camera),
 * a state filter, and a sort by one column. Pure functions, so the table and its URL
 * (`?q=&state=&sort=&dir=`) agree.
 */
import type { NodeView } from '@cctv/protocol';
import { type NodeFigures, nodeFigures } from './fleet-figures';

export const SORT_KEYS = [
  'node',
  'host',
  'state',
  'agent',
  'heartbeat',
  'clock',
  'cpu',
  'memory',
  'temp',
  'disk',
  'backlog',
  'cameras',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';

export const STATE_FILTERS = ['all', 'online', 'stale', 'offline'] as const;
export type StateFilter = (typeof STATE_FILTERS)[number];

export interface FleetView {
  query: string;
  state: StateFilter;
  sort: SortKey;
  dir: SortDir;
}

export const DEFAULT_VIEW: FleetView = { query: '', state: 'all', sort: 'node', dir: 'asc' };

/** Healthy first when ascending. */
const STATE_RANK: Record<NodeView['state'], number> = { online: 0, stale: 1, offline: 2 };

type SortValue = string | number | null;

function sortValue(key: SortKey, node: NodeView, f: NodeFigures): SortValue {
  switch (key) {
    case 'node':
      return node.id;
    case 'host':
      return node.hostname;
    case 'state':
      return STATE_RANK[node.state] ?? 3;
    case 'agent':
      return node.agentVersion;
    case 'heartbeat': {
      // Ascending: the youngest heartbeat (smallest age) first.
      const t = node.lastHeartbeatAt ? Date.parse(node.lastHeartbeatAt) : Number.NaN;
      return Number.isNaN(t) ? null : -t;
    }
    case 'clock': {
      // Ascending: the clock nearest the master's first, whichever way the others are off.
      const offset = node.heartbeat?.clock?.offsetMs;
      return offset === undefined ? null : Math.abs(offset);
    }
    case 'cpu':
      return f.hostCpuPercent ?? f.agentCpuPercent;
    case 'memory':
      return f.memUsedBytes !== null && f.memTotalBytes ? f.memUsedBytes / f.memTotalBytes : null;
    case 'temp':
      return f.tempC;
    case 'disk':
      return f.diskUsedFraction;
    case 'backlog':
      return f.backlogBytes;
    case 'cameras':
      return node.cameras.length;
  }
}

function compareValues(a: SortValue, b: SortValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/** Whether `node` matches every whitespace-separated term of `query` (node, host, cameras). */
export function matchesQuery(node: NodeView, query: string): boolean {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return true;
  const haystack = [node.id, node.hostname ?? '', ...node.cameras.flatMap((c) => [c.id, c.name])]
    .join('\n')
    .toLowerCase();
  return terms.every((t) => haystack.includes(t));
}

export interface FleetRow {
  node: NodeView;
  figures: NodeFigures;
}

/** The rows to show: filtered, then sorted (missing figures last either way, ties by node id). */
export function fleetRows(nodes: NodeView[], view: FleetView): FleetRow[] {
  const rows = nodes
    .filter((n) => (view.state === 'all' || n.state === view.state) && matchesQuery(n, view.query))
    .map((node) => ({ node, figures: nodeFigures(node.heartbeat), value: null as SortValue }));
  for (const r of rows) r.value = sortValue(view.sort, r.node, r.figures);
  const sign = view.dir === 'asc' ? 1 : -1;
  rows.sort((a, b) => {
    if (a.value === null || b.value === null) {
      if (a.value !== b.value) return a.value === null ? 1 : -1;
    } else {
      const c = compareValues(a.value, b.value);
      if (c !== 0) return sign * c;
    }
    return a.node.id.localeCompare(b.node.id);
  });
  return rows.map(({ node, figures }) => ({ node, figures }));
}

const pick = <T extends string>(allowed: readonly T[], v: unknown, fallback: T): T =>
  typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;

/** The view from the page's search parameters; anything unknown falls back to the default. */
export function viewFromParams(params: Record<string, string | string[] | undefined>): FleetView {
  const first = (k: string) => {
    const v = params[k];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    query: (first('q') ?? '').slice(0, 200),
    state: pick(STATE_FILTERS, first('state'), DEFAULT_VIEW.state),
    sort: pick(SORT_KEYS, first('sort'), DEFAULT_VIEW.sort),
    dir: pick(['asc', 'desc'] as const, first('dir'), DEFAULT_VIEW.dir),
  };
}

/** `?q=…&state=…` with only what differs from the default, for `history.replaceState`. */
export function viewSearch(view: FleetView): string {
  const p = new URLSearchParams();
  if (view.query) p.set('q', view.query);
  if (view.state !== DEFAULT_VIEW.state) p.set('state', view.state);
  if (view.sort !== DEFAULT_VIEW.sort || view.dir !== DEFAULT_VIEW.dir) {
    p.set('sort', view.sort);
    p.set('dir', view.dir);
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
