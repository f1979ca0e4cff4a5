/**
 * The alerts a page holds, as the master keeps them: a first page read from `/api/alerts`,
 * then every `alert` websocket message applied to it (the same id replaces, a new one goes on
 * top). Pure state changes, so the bell and the alerts page only wire them to the API and the
 * socket, and a browser opened later reads the same history from the master.
 */
import type { AlertPage, AlertView } from '@cctv/protocol';

export interface AlertBook {
  /** Newest first (by id: the order the master raised them in). */
  alerts: AlertView[];
  /** Alerts nobody acknowledged, of all the user sees (not only those in `alerts`). */
  unacknowledged: number;
  /** Where the next "Older" page starts; null when the oldest is held. */
  nextCursor: string | null;
  /**
   * An acknowledgement of an alert this book never held: whether it was counted in
   * `unacknowledged` cannot be told here, so the owner should read the count again.
   */
  recount: boolean;
}

export const emptyBook = (): AlertBook => ({
  alerts: [],
  unacknowledged: 0,
  nextCursor: null,
  recount: false,
});

export const bookOf = (page: AlertPage): AlertBook => ({
  alerts: [...page.alerts].sort(newestFirst),
  unacknowledged: page.unacknowledged,
  nextCursor: page.nextCursor,
  recount: false,
});

/** Ids are the master's sequence (decimal, up to 18 digits): longer is newer, then by digits. */
export function newestFirst(a: { id: string }, b: { id: string }): number {
  if (a.id.length !== b.id.length) return b.id.length - a.id.length;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export const isAcknowledged = (a: AlertView): boolean => a.acknowledgedAt !== null;

interface ApplyOptions {
  /** The most alerts kept (the bell holds one page); older ones fall off the end. */
  limit?: number;
  /** Whether a new alert belongs in this list (the page's filters); default: every alert. */
  accepts?: (a: AlertView) => boolean;
}

/**
 * An alert from the websocket: raised, repeated, resolved or acknowledged. The same id
 * replaces the held one; a new one goes in by id when `accepts` it. The count follows what
 * changed: a new unacknowledged alert adds one, an acknowledgement of a held one takes one.
 */
export function applyAlert(book: AlertBook, given: AlertView, options: ApplyOptions = {}): AlertBook {
  const i = book.alerts.findIndex((a) => a.id === given.id);
  const held = i >= 0 ? (book.alerts[i] as AlertView) : null;
  if (held && held.updatedAt > given.updatedAt) return book; // A late copy of an older state.
  // An acknowledgement is never taken back: one made here stays while the socket catches up.
  const alert =
    held && isAcknowledged(held) && !isAcknowledged(given)
      ? { ...given, acknowledgedAt: held.acknowledgedAt, acknowledgedBy: held.acknowledgedBy }
      : given;
  const accepted = held !== null || (options.accepts?.(alert) ?? true);
  let unacknowledged = book.unacknowledged;
  let recount = book.recount;
  if (held) {
    if (!isAcknowledged(held) && isAcknowledged(alert)) unacknowledged -= 1;
  } else if (!isAcknowledged(alert)) {
    if (accepted) unacknowledged += 1;
  } else if (accepted) {
    recount = true;
  }
  let alerts = book.alerts;
  if (held) {
    alerts = [...alerts];
    alerts[i] = alert;
  } else if (accepted) {
    alerts = [...alerts, alert].sort(newestFirst);
    if (options.limit !== undefined && alerts.length > options.limit) alerts = alerts.slice(0, options.limit);
  }
  return { ...book, alerts, unacknowledged: Math.max(0, unacknowledged), recount };
}

/** The next page ("Older") after the held ones; an alert held already keeps its newer copy. */
export function appendOlder(book: AlertBook, page: AlertPage): AlertBook {
  const held = new Set(book.alerts.map((a) => a.id));
  return {
    ...book,
    alerts: [...book.alerts, ...page.alerts.filter((a) => !held.has(a.id))].sort(newestFirst),
    nextCursor: page.nextCursor,
    unacknowledged: page.unacknowledged,
  };
}

/**
 * Acknowledged here before the master's answer (and its websocket copy) arrives: `ids`, or
 * every held alert when null. Acknowledging every alert the user sees clears the count.
 */
export function acknowledgeHeld(
  book: AlertBook,
  ids: readonly string[] | null,
  by: string,
  at = new Date().toISOString(),
): AlertBook {
  const chosen = ids === null ? null : new Set(ids);
  let taken = 0;
  const alerts = book.alerts.map((a) => {
    if (isAcknowledged(a) || (chosen && !chosen.has(a.id))) return a;
    taken += 1;
    return { ...a, acknowledgedAt: at, acknowledgedBy: by };
  });
  const unacknowledged = ids === null ? 0 : Math.max(0, book.unacknowledged - taken);
  return { ...book, alerts, unacknowledged };
}

/** The count read again from the master (after `recount`). */
export const recounted = (book: AlertBook, unacknowledged: number): AlertBook => ({
  ...book,
  unacknowledged,
  recount: false,
});

/** The alert kinds in words, for badges and menus. */
export const KIND_LABELS: Record<AlertView['kind'], string> = {
  detection: 'detection',
  node_offline: 'node offline',
  camera_down: 'camera down',
  disk_low: 'disk low',
  nas_down: 'NAS down',
  backlog: 'backlog',
  clock_skew: 'clock skew',
  cert_expiry: 'certificate',
  security: 'security',
};

/** Where an alert leads: its event, else its camera, else its node on the fleet page. */
export function alertHref(a: AlertView): string | null {
  if (a.eventId) return `/events/${encodeURIComponent(a.eventId)}`;
  if (a.cameraId) return `/cameras/${encodeURIComponent(a.cameraId)}`;
  if (a.nodeId) return `/?q=${encodeURIComponent(a.nodeId)}`;
  return null;
}

/** What the alert is about, in a few words: its camera, else its node, else its rule. */
export function alertSubject(a: AlertView): string {
  return a.cameraId ?? a.nodeId ?? a.ruleName ?? KIND_LABELS[a.kind];
}

/** One line for a screen reader's announcement and the acknowledge button's label. */
export function describeAlert(a: AlertView): string {
  const repeats = a.count > 1 ? ` (${a.count} times)` : '';
  return `${a.severity} ${KIND_LABELS[a.kind]}: ${a.message}${repeats}`;
}
