'use client';

import type { AlertView } from '@cctv/protocol';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useEffect, useId, useRef, useState } from 'react';
import {
  alertHref,
  alertSubject,
  describeAlert,
  isAcknowledged,
  KIND_LABELS,
} from '@/features/alerts/alert-book';
import { useAlerts } from '@/features/alerts/use-alerts';
import { formatAge } from '@/lib/format';
import { masterFetch } from '@/lib/master-fetch';
import { LOGIN_PATH } from '@/lib/session';
import { useNow } from '@/lib/use-now';
import './alert-bell.css';

interface Props {
  masterPublicUrl: string;
  /** The signed-in user (the bell is theirs); undefined: asked of `/api/auth/me`. */
  username?: string | null;
}

/**
 * The alert bell for the top navigation. Mounted twice on one page (the layout and a page),
 * only the first mounted shows, so there is one bell and one websocket.
 */
export function Alerts({ masterPublicUrl, username }: Props) {
  const pathname = usePathname();
  const first = useFirstInstance();
  const user = useUsername(username);
  if (!first || !user || pathname === LOGIN_PATH) return null;
  return <AlertsBell key={user} masterPublicUrl={masterPublicUrl} username={user} />;
}

const mounted: symbol[] = [];
const listeners = new Set<() => void>();

function useFirstInstance(): boolean {
  const [me] = useState(() => Symbol('alerts'));
  const [first, setFirst] = useState(false);
  useEffect(() => {
    mounted.push(me);
    const update = () => setFirst(mounted[0] === me);
    listeners.add(update);
    for (const l of listeners) l();
    return () => {
      const i = mounted.indexOf(me);
      if (i >= 0) mounted.splice(i, 1);
      listeners.delete(update);
      for (const l of listeners) l();
    };
  }, [me]);
  return first;
}

function useUsername(given: string | null | undefined): string | null {
  const [fetched, setFetched] = useState<string | null>(null);
  useEffect(() => {
    if (given !== undefined) return;
    let cancelled = false;
    masterFetch('me')
      .then((res) => (res.ok ? res.json() : null))
      .then((me) => {
        if (!cancelled && typeof me?.username === 'string') setFetched(me.username);
      })
      .catch(() => {
        // No user known: no bell; the page's own session handling takes the visitor to sign in.
      });
    return () => {
      cancelled = true;
    };
  }, [given]);
  return given === undefined ? fetched : given;
}

/** An alert arrived this recently is highlighted in the panel. */
const FRESH_MS = 15_000;

function AlertsBell({ masterPublicUrl, username }: { masterPublicUrl: string; username: string }) {
  const { alerts, unacked, arrivals, announcement, acknowledge, acknowledgeAll } = useAlerts(
    masterPublicUrl,
    username,
  );
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const bell = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    panel.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      bell.current?.focus();
    };
    const onPointer = (e: PointerEvent) => {
      if (root.current && e.target instanceof Node && !root.current.contains(e.target)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open]);

  return (
    <div className="alerts" ref={root} data-testid="alerts">
      <button
        ref={bell}
        type="button"
        className={`alerts-bell${unacked > 0 ? ' alerts-bell-active' : ''}`}
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        aria-haspopup="dialog"
        aria-label={`Alerts: ${unacked} unacknowledged`}
        onClick={() => setOpen((o) => !o)}
        data-testid="alerts-bell"
      >
        <BellIcon />
        <span
          // A new key restarts the pulse on every arrival.
          key={arrivals}
          className={`alerts-count${unacked > 0 ? '' : ' alerts-count-zero'}${arrivals > 0 ? ' alerts-pulse' : ''}`}
          data-testid="alerts-count"
          data-count={unacked}
          aria-hidden="true"
        >
          {unacked > 99 ? '99+' : unacked}
        </span>
      </button>
      <span className="alerts-sr" role="status" aria-live="polite">
        {announcement}
      </span>
      {open ? (
        <div
          id={panelId}
          ref={panel}
          className="alerts-panel"
          role="dialog"
          aria-label="Alerts"
          tabIndex={-1}
          data-testid="alerts-panel"
        >
          <header className="alerts-head">
            <h2>Alerts</h2>
            <span className="sub">{unacked} unacknowledged</span>
            <button
              type="button"
              className="button-quiet"
              onClick={acknowledgeAll}
              disabled={unacked === 0}
              data-testid="alerts-ack-all"
            >
              Acknowledge all
            </button>
            <button
              type="button"
              className="alerts-close"
              aria-label="Close alerts"
              onClick={() => {
                setOpen(false);
                bell.current?.focus();
              }}
            >
              ×
            </button>
          </header>
          {alerts.length === 0 ? (
            <p className="sub alerts-empty">
              No alerts yet: detections, nodes going offline and other alerts appear here as they happen.
            </p>
          ) : (
            <AlertList alerts={alerts} onAcknowledge={acknowledge} onFollow={() => setOpen(false)} />
          )}
          <footer className="alerts-foot">
            <Link href="/alerts" onClick={() => setOpen(false)} data-testid="alerts-all">
              All alerts
            </Link>
          </footer>
        </div>
      ) : null}
    </div>
  );
}

function AlertList({
  alerts,
  onAcknowledge,
  onFollow,
}: {
  alerts: AlertView[];
  onAcknowledge(id: string): void;
  onFollow(): void;
}) {
  const now = useNow(5_000);
  return (
    <ol className="alerts-list">
      {alerts.map((a) => {
        const isAcked = isAcknowledged(a);
        const fresh = !isAcked && now !== null && now - Date.parse(a.updatedAt) < FRESH_MS;
        const href = alertHref(a);
        return (
          <li
            key={a.id}
            className={`alerts-item${isAcked ? ' alerts-acked' : ' alerts-unacked'}${fresh ? ' alerts-fresh' : ''}`}
            data-testid="alert-item"
            data-alert-id={a.id}
            data-kind={a.kind}
            data-severity={a.severity}
            data-state={a.state}
            data-acked={isAcked}
          >
            <span className={`badge badge-severity-${a.severity}`} title={a.severity}>
              {KIND_LABELS[a.kind]}
            </span>
            <div className="alerts-text">
              {href ? (
                <Link href={href} onClick={onFollow}>
                  {alertSubject(a)}
                </Link>
              ) : (
                <b>{alertSubject(a)}</b>
              )}
              <span className="sub">
                {' · '}
                {a.message}
                {a.count > 1 ? ` (${a.count}×)` : ''}
                {a.state === 'resolved' && a.kind !== 'detection' && a.resolvedAt
                  ? ` · resolved ${formatAge(a.resolvedAt, now)}`
                  : ''}
              </span>
              <div className="sub">
                <time dateTime={a.raisedAt}>{new Date(a.raisedAt).toLocaleTimeString()}</time> ·{' '}
                {formatAge(a.raisedAt, now)}
              </div>
            </div>
            {isAcked ? (
              <span className="sub">acknowledged</span>
            ) : (
              <button
                type="button"
                className="button-quiet"
                onClick={() => onAcknowledge(a.id)}
                aria-label={`Acknowledge ${describeAlert(a)}`}
                data-testid="alert-ack"
              >
                Acknowledge
              </button>
            )}
          </li>
        );
      })}
    </ol>
  );
}

function BellIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
      <path
        d="M12 3a6 6 0 0 0-6 6v3.6L4.3 15.5A1 1 0 0 0 5.2 17h13.6a1 1 0 0 0 .9-1.5L18 12.6V9a6 6 0 0 0-6-6Zm0 19a3 3 0 0 0 2.8-2H9.2A3 3 0 0 0 12 22Z"
        fill="currentColor"
      />
    </svg>
  );
}
