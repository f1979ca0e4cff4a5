'use client';

import type { AlertView, FleetSocketMessage } from '@cctv/protocol';
import { useCallback, useEffect, useRef, useState } from 'react';
import { masterFetch } from '../../lib/master-fetch';
import { connectFleetSocket } from '../fleet/fleet-socket';
import {
  type AlertBook,
  acknowledgeHeld,
  applyAlert,
  bookOf,
  describeAlert,
  emptyBook,
  isAcknowledged,
  recounted,
} from './alert-book';
import { ALERTS_PAGE_SIZE } from './alert-filters';

export interface AlertsState {
  alerts: AlertView[];
  unacked: number;
  /** Rises with every new alert that arrives, so a cue can restart. */
  arrivals: number;
  /** The newest arrival in words, for a live region. */
  announcement: string;
  acknowledge(id: string): void;
  acknowledgeAll(): void;
}

/** The newest page of the user's alerts, with the count nobody acknowledged. */
async function readNewest(): Promise<AlertBook | null> {
  const res = await masterFetch('alerts', { query: { limit: ALERTS_PAGE_SIZE } });
  return res.ok ? bookOf(await res.json()) : null;
}

/**
 * The bell's alerts: the master's newest page, read when the bell mounts and again whenever
 * the socket comes back (what happened meanwhile), then every `alert` message applied to it.
 * Acknowledgements go to the master, which tells every other page of every user through the
 * socket.
 */
export function useAlerts(masterPublicUrl: string, username: string): AlertsState {
  const [book, setBook] = useState<AlertBook>(emptyBook);
  const [arrivals, setArrivals] = useState(0);
  const [announcement, setAnnouncement] = useState('');
  // Messages that came while a page was read: applied on top of it, so none is lost.
  const early = useRef<AlertView[] | null>([]);
  const held = useRef(book);
  held.current = book;

  const reload = useCallback(async () => {
    if (early.current === null) early.current = [];
    let fresh: AlertBook | null = null;
    try {
      fresh = await readNewest();
    } catch {
      // The master is unreachable for now: the socket's return reads the page again.
    }
    const pending = early.current ?? [];
    early.current = null;
    setBook((b) => pending.reduce((acc, a) => applyAlert(acc, a, { limit: ALERTS_PAGE_SIZE }), fresh ?? b));
  }, []);

  useEffect(
    () =>
      connectFleetSocket(masterPublicUrl, {
        onMessage: (msg: FleetSocketMessage) => {
          if (msg.type !== 'alert') return;
          const alert = msg.alert;
          if (early.current) {
            early.current.push(alert);
            return;
          }
          if (!isAcknowledged(alert) && !held.current.alerts.some((a) => a.id === alert.id)) {
            setArrivals((n) => n + 1);
            setAnnouncement(`New alert: ${describeAlert(alert)}`);
          }
          setBook((b) => applyAlert(b, alert, { limit: ALERTS_PAGE_SIZE }));
        },
        onState: (state) => {
          // The first page is read once the socket is open, and again after every gap in it.
          if (state === 'live') void reload();
        },
      }),
    [masterPublicUrl, reload],
  );

  // An acknowledgement of an alert older than the page: the count is read again.
  useEffect(() => {
    if (!book.recount) return;
    let cancelled = false;
    masterFetch('alerts', { query: { acknowledged: false, limit: 1 } })
      .then(async (res) => {
        if (!res.ok || cancelled) return;
        const page = await res.json();
        if (!cancelled) setBook((b) => recounted(b, page.unacknowledged));
      })
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [book.recount]);

  const acknowledge = useCallback(
    (id: string) => {
      setBook((b) => acknowledgeHeld(b, [id], username));
      masterFetch('alertAck', { params: { id } })
        .then((res) => {
          if (!res.ok) void reload();
        })
        .catch(() => void reload());
    },
    [username, reload],
  );
  const acknowledgeAll = useCallback(() => {
    setBook((b) => acknowledgeHeld(b, null, username));
    masterFetch('alertsAck', { body: {} })
      .then((res) => {
        if (!res.ok) void reload();
      })
      .catch(() => void reload());
  }, [username, reload]);

  return {
    alerts: book.alerts,
    unacked: book.unacknowledged,
    arrivals,
    announcement,
    acknowledge,
    acknowledgeAll,
  };
}
