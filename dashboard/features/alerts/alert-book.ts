/**
 * Alerts raised from the fleet websocket: every new event (the first message seen of an event
 * id), every node that goes from online or stale to offline, and, for admins, every security
 * alert the master raised (a refused camera claim, a foreign upload, a session takeover). Pure
 * state changes, so the bell (components/alerts.tsx) only wires them to the socket and to
 * localStorage, where the list and the acknowledged ids are kept per signed-in user.
 */
import type { EventView, FleetSocketMessage, NodeView, SecurityAlertView } from '@cctv/protocol';

export interface Alert {
  /** `event:<event id>`, `offline:<node id>:<time it went offline>` or `security:<alert id>`. */
  id: string;
  kind: 'event' | 'offline' | 'security';
  /** When it happened: the event's start, the node's change to offline. */
  at: string;
  /** When this browser first saw it (ms since the epoch). */
  seenAt: number;
  nodeId: string;
  cameraId: string | null;
  /** `motion`, `face`, `offline`. */
  label: string;
  /** Event score 0..1; null for a node. */
  score: number | null;
  href: string;
  /** An offline node that came back: when. */
  resolvedAt: string | null;
  /** A security alert's words, as the master wrote them. */
  text?: string;
}

export interface AlertBook {
  /** Newest first, at most MAX_ALERTS. */
  alerts: Alert[];
  /** Each node's last known state; null until the first snapshot (no alerts for what was offline already). */
  nodeStates: Record<string, NodeView['state']> | null;
}

export const MAX_ALERTS = 100;
/** Acknowledged ids kept, newest last; more than alerts, so a re-sent old event stays quiet. */
export const MAX_ACKED = 1000;

export const emptyBook = (alerts: Alert[] = []): AlertBook => ({ alerts, nodeStates: null });

export function eventAlert(event: EventView, seenAt: number): Alert {
  return {
    id: `event:${event.id}`,
    kind: 'event',
    at: event.startedAt,
    seenAt,
    nodeId: event.nodeId,
    cameraId: event.cameraId,
    label: event.type,
    score: event.score,
    href: `/events/${encodeURIComponent(event.id)}`,
    resolvedAt: null,
  };
}

export function offlineAlert(node: NodeView, seenAt: number): Alert {
  return {
    id: `offline:${node.id}:${node.stateChangedAt}`,
    kind: 'offline',
    at: node.stateChangedAt,
    seenAt,
    nodeId: node.id,
    cameraId: null,
    label: 'offline',
    score: null,
    href: `/?q=${encodeURIComponent(node.id)}`,
    resolvedAt: null,
  };
}

export function securityAlert(alert: SecurityAlertView, seenAt: number): Alert {
  return {
    id: `security:${alert.id}`,
    kind: 'security',
    at: alert.lastAt,
    seenAt,
    nodeId: alert.nodeId ?? '',
    cameraId: alert.cameraId,
    label: 'security',
    score: null,
    href: alert.nodeId ? `/?q=${encodeURIComponent(alert.nodeId)}` : '/',
    resolvedAt: null,
    text: alert.count > 1 ? `${alert.message} (${alert.count} times)` : alert.message,
  };
}

function add(alerts: Alert[], alert: Alert): Alert[] {
  if (alerts.some((a) => a.id === alert.id)) return alerts;
  return [alert, ...alerts].slice(0, MAX_ALERTS);
}

/** Applies one node's state: an offline alert when it dropped, resolved ones when it is back. */
function nodeSeen(book: AlertBook, node: NodeView, now: number): Alert[] {
  const before = book.nodeStates?.[node.id];
  let alerts = book.alerts;
  if (node.state === 'offline' && before !== undefined && before !== 'offline')
    alerts = add(alerts, offlineAlert(node, now));
  if (node.state !== 'offline' && before === 'offline')
    alerts = alerts.map((a) =>
      a.kind === 'offline' && a.nodeId === node.id && a.resolvedAt === null
        ? { ...a, resolvedAt: node.stateChangedAt }
        : a,
    );
  return alerts;
}

/** The book after one websocket message; the same object when nothing changed. */
export function reduceAlerts(book: AlertBook, msg: FleetSocketMessage, now: number): AlertBook {
  switch (msg.type) {
    case 'event': {
      // Updates and the end of an event already listed change nothing: one alert per event.
      const alerts = add(book.alerts, eventAlert(msg.event, now));
      return alerts === book.alerts ? book : { ...book, alerts };
    }
    case 'node': {
      const alerts = nodeSeen(book, msg.node, now);
      // Every heartbeat sends the node again: one that changed nothing must not re-render the bell.
      if (alerts === book.alerts && book.nodeStates?.[msg.node.id] === msg.node.state) return book;
      return { alerts, nodeStates: { ...(book.nodeStates ?? {}), [msg.node.id]: msg.node.state } };
    }
    case 'security': {
      // A repeat of a listed alert updates its words (the count), without raising it again.
      const next = securityAlert(msg.alert, now);
      const known = book.alerts.find((a) => a.id === next.id);
      if (!known) return { ...book, alerts: add(book.alerts, next) };
      if (known.text === next.text) return book;
      return {
        ...book,
        alerts: book.alerts.map((a) => (a.id === next.id ? { ...a, text: next.text, at: next.at } : a)),
      };
    }
    case 'snapshot': {
      // A snapshot after a reconnect also raises what went offline while the socket was down.
      let next = book;
      for (const node of msg.nodes) next = { ...next, alerts: nodeSeen(next, node, now) };
      return { alerts: next.alerts, nodeStates: Object.fromEntries(msg.nodes.map((n) => [n.id, n.state])) };
    }
    default:
      return book;
  }
}

export const unacknowledged = (alerts: Alert[], acked: ReadonlySet<string>): Alert[] =>
  alerts.filter((a) => !acked.has(a.id));

/** The localStorage key of a user's alerts. */
export const alertsStorageKey = (username: string): string => `cctv.alerts.v1.${username}`;

export interface StoredAlerts {
  alerts: Alert[];
  acked: string[];
}

const isAlert = (v: unknown): v is Alert => {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  return (
    typeof a.id === 'string' &&
    (a.kind === 'event' || a.kind === 'offline' || a.kind === 'security') &&
    typeof a.at === 'string' &&
    typeof a.seenAt === 'number' &&
    typeof a.nodeId === 'string' &&
    typeof a.href === 'string' &&
    typeof a.label === 'string'
  );
};

/** What localStorage holds, or nothing for a missing or damaged entry. */
export function parseStoredAlerts(raw: string | null): StoredAlerts {
  if (!raw) return { alerts: [], acked: [] };
  try {
    const v = JSON.parse(raw) as { alerts?: unknown; acked?: unknown };
    return {
      alerts: Array.isArray(v.alerts) ? v.alerts.filter(isAlert).slice(0, MAX_ALERTS) : [],
      acked: Array.isArray(v.acked)
        ? v.acked.filter((x): x is string => typeof x === 'string').slice(-MAX_ACKED)
        : [],
    };
  } catch {
    return { alerts: [], acked: [] };
  }
}

export function serialiseAlerts(alerts: Alert[], acked: Iterable<string>): string {
  return JSON.stringify({ alerts, acked: [...acked].slice(-MAX_ACKED) } satisfies StoredAlerts);
}

/**
 * `local` merged into what another tab stored: the stored copy of an alert wins (so tabs agree
 * on the text they write), except that a resolution seen only here is kept.
 */
export function mergeAlerts(stored: Alert[], local: Alert[]): Alert[] {
  const byId = new Map(stored.map((a) => [a.id, a]));
  for (const a of local) {
    const s = byId.get(a.id);
    if (!s) byId.set(a.id, a);
    else if (a.resolvedAt && !s.resolvedAt) byId.set(a.id, { ...s, resolvedAt: a.resolvedAt });
  }
  return [...byId.values()]
    .sort((x, y) => y.seenAt - x.seenAt || x.id.localeCompare(y.id))
    .slice(0, MAX_ALERTS);
}
