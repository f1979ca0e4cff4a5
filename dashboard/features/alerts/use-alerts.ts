'use client';

import type { SecurityAlertView } from '@cctv/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { masterFetch } from '../../lib/master-fetch';
import { connectFleetSocket } from '../fleet/fleet-socket';
import {
  type Alert,
  type AlertBook,
  alertsStorageKey,
  emptyBook,
  MAX_ACKED,
  mergeAlerts,
  parseStoredAlerts,
  reduceAlerts,
  serialiseAlerts,
  unacknowledged,
} from './alert-book';

/** Security alerts are acknowledged on the master too (audited), for every admin. */
function ackOnMaster(ids: string[]): void {
  for (const id of ids) {
    if (!id.startsWith('security:')) continue;
    void masterFetch('securityAlertAck', { params: { id: id.slice('security:'.length) } }).catch(() => {});
  }
}

function readStored(key: string) {
  try {
    return parseStoredAlerts(window.localStorage.getItem(key));
  } catch {
    // Storage disabled (privacy mode): alerts still work, for this page only.
    return parseStoredAlerts(null);
  }
}

/**
 * Folds `alerts` and `acked` into what localStorage holds and writes the union back only when
 * it differs, so tabs that hear each other's `storage` events settle instead of echoing.
 */
function persist(key: string, alerts: Alert[], acked: Iterable<string>): void {
  try {
    const raw = window.localStorage.getItem(key);
    const stored = parseStoredAlerts(raw);
    const ackedAll = new Set(stored.acked);
    for (const id of acked) ackedAll.add(id);
    const next = serialiseAlerts(mergeAlerts(stored.alerts, alerts), [...ackedAll].slice(-MAX_ACKED));
    if (next !== raw) window.localStorage.setItem(key, next);
  } catch {
    // Storage full or disabled: the acknowledgement holds for this page only.
  }
}

export interface AlertsState {
  alerts: Alert[];
  acked: ReadonlySet<string>;
  unacked: number;
  /** Rises with every alert that arrives, so a cue can restart. */
  arrivals: number;
  /** The newest arrival in words, for a live region. */
  announcement: string;
  acknowledge(id: string): void;
  acknowledgeAll(): void;
}

export function describeAlert(a: Alert): string {
  if (a.kind === 'security') return `security: ${a.text ?? a.nodeId}`;
  return a.kind === 'event' ? `${a.label} on ${a.cameraId ?? a.nodeId}` : `node ${a.nodeId} offline`;
}

/**
 * Security alerts not yet acknowledged on the master, read once when the bell opens its socket
 * (admins only: anyone else is refused, and has none to see).
 */
async function openSecurityAlerts(): Promise<SecurityAlertView[]> {
  const res = await masterFetch('securityAlerts', { query: { open: true, limit: 50 } });
  if (!res.ok) return [];
  return (await res.json()).alerts.reverse();
}

/** Alerts from the fleet websocket, with the user's acknowledgements kept in localStorage. */
export function useAlerts(masterPublicUrl: string, username: string): AlertsState {
  const key = alertsStorageKey(username);
  const [book, setBook] = useState<AlertBook>(() => emptyBook());
  const [acked, setAcked] = useState<ReadonlySet<string>>(() => new Set());
  const [loaded, setLoaded] = useState(false);
  const [arrivals, setArrivals] = useState(0);
  const [announcement, setAnnouncement] = useState('');
  const known = useRef<Set<string> | null>(null);

  useEffect(() => {
    const stored = readStored(key);
    setBook(emptyBook(stored.alerts));
    setAcked(new Set(stored.acked));
    known.current = new Set(stored.alerts.map((a) => a.id));
    setLoaded(true);
    // Another tab of this user acknowledged or heard something.
    const onStorage = (ev: StorageEvent) => {
      if (ev.key !== key) return;
      const other = parseStoredAlerts(ev.newValue);
      setBook((b) => ({ ...b, alerts: mergeAlerts(other.alerts, b.alerts) }));
      setAcked((a) => new Set([...a, ...other.acked]));
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, [key]);

  // The socket opens after the stored list is read, so nothing in it is raised twice.
  useEffect(() => {
    if (!loaded) return;
    openSecurityAlerts()
      .then((open) => {
        const now = Date.now();
        setBook((b) => open.reduce((acc, alert) => reduceAlerts(acc, { type: 'security', alert }, now), b));
      })
      .catch(() => {
        // The live socket still brings new ones.
      });
    return connectFleetSocket(masterPublicUrl, {
      onMessage: (msg) => setBook((b) => reduceAlerts(b, msg, Date.now())),
      onState: () => {},
    });
  }, [loaded, masterPublicUrl]);

  useEffect(() => {
    if (!loaded || !known.current) return;
    const fresh = book.alerts.filter((a) => !known.current?.has(a.id));
    for (const a of fresh) known.current.add(a.id);
    persist(key, book.alerts, acked);
    const newest = fresh.filter((a) => !acked.has(a.id));
    if (newest.length === 0) return;
    setArrivals((n) => n + newest.length);
    const first = newest[0] as Alert;
    setAnnouncement(
      newest.length === 1 ? `New alert: ${describeAlert(first)}` : `${newest.length} new alerts`,
    );
  }, [book.alerts, acked, key, loaded]);

  const acknowledge = useCallback((id: string) => {
    setAcked((a) => new Set([...a, id]));
    ackOnMaster([id]);
  }, []);
  const acknowledgeAll = useCallback(() => {
    setAcked((a) => new Set([...a, ...book.alerts.map((x) => x.id)]));
    ackOnMaster(book.alerts.filter((x) => !acked.has(x.id)).map((x) => x.id));
  }, [book.alerts, acked]);

  return {
    alerts: book.alerts,
    acked,
    unacked: unacknowledged(book.alerts, acked).length,
    arrivals,
    announcement,
    acknowledge,
    acknowledgeAll,
  };
}
