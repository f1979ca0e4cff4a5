'use client';

import type { AlertPage, AlertView, FleetSocketMessage } from '@cctv/protocol';
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { useFleetSocket } from '../fleet/fleet-socket';
import {
  acknowledgeHeld,
  alertHref,
  alertSubject,
  appendOlder,
  applyAlert,
  bookOf,
  describeAlert,
  isAcknowledged,
  KIND_LABELS,
  recounted,
} from './alert-book';
import { ALERTS_PAGE_SIZE, type AlertFilters, alertQuery, matchesAlertFilters } from './alert-filters';

const second = (iso: string | null) =>
  iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '—';

/** The most ids one acknowledgement names (the contract's limit). */
const MAX_ACK_IDS = 500;

function AlertRow({ a, busy, onAcknowledge }: { a: AlertView; busy: boolean; onAcknowledge(): void }) {
  const href = alertHref(a);
  const acked = isAcknowledged(a);
  return (
    <tr
      data-testid="alert-row"
      data-alert-id={a.id}
      data-kind={a.kind}
      data-severity={a.severity}
      data-state={a.state}
      data-acked={acked}
      className={acked ? 'dim' : ''}
    >
      <td data-label="Severity">
        <span className={`badge badge-severity-${a.severity}`} data-testid="alert-severity">
          {a.severity}
        </span>
      </td>
      <td data-label="Alert">
        <span className="tag">{KIND_LABELS[a.kind]}</span> {a.message}
        {a.count > 1 ? <span className="sub"> ({a.count}×)</span> : null}
        {a.ruleName ? <div className="sub">rule: {a.ruleName}</div> : null}
      </td>
      <td data-label="Where">
        {href ? (
          <Link href={href} data-testid="alert-link">
            {a.eventId ? `event on ${alertSubject(a)}` : alertSubject(a)}
          </Link>
        ) : (
          '—'
        )}
      </td>
      <td data-label="Raised (UTC)" className="mono">
        {second(a.raisedAt)}
      </td>
      <td data-label="State" data-testid="alert-state">
        {a.state === 'open' ? 'open' : a.kind === 'detection' ? 'event' : `resolved ${second(a.resolvedAt)}`}
      </td>
      <td data-label="Acknowledged" data-testid="alert-acked">
        {acked ? (
          <>
            {a.acknowledgedBy ?? ''} <span className="mono">{second(a.acknowledgedAt)}</span>
          </>
        ) : (
          <button
            type="button"
            className="button-quiet"
            disabled={busy}
            onClick={onAcknowledge}
            aria-label={`Acknowledge ${describeAlert(a)}`}
            data-testid="alert-row-ack"
          >
            Acknowledge
          </button>
        )}
      </td>
    </tr>
  );
}

interface Props {
  first: AlertPage;
  filters: AlertFilters;
  masterPublicUrl: string;
  username: string;
}

/** The alerts matching the filters, newest first, kept live by the socket; "Older" reads on. */
export function AlertHistory({ first, filters, masterPublicUrl, username }: Props) {
  const [book, setBook] = useState(() => bookOf(first));
  const [done, setDone] = useState<string | null>(null);
  const { busy, error, run } = useMasterAction();
  const query = alertQuery(filters);

  const socket = useFleetSocket(masterPublicUrl, (msg: FleetSocketMessage) => {
    if (msg.type !== 'alert') return;
    setBook((b) => applyAlert(b, msg.alert, { accepts: (a) => matchesAlertFilters(a, filters) }));
  });

  // Back after a gap in the socket: what was raised or changed meanwhile, and the count.
  const wasDown = useRef(false);
  const needsRead = book.recount || (socket.state === 'live' && wasDown.current);
  if (socket.state === 'reconnecting') wasDown.current = true;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the query is the filters', fixed for this list
  useEffect(() => {
    if (!needsRead) return;
    wasDown.current = false;
    let cancelled = false;
    masterFetch('alerts', { query: { ...query, limit: ALERTS_PAGE_SIZE } })
      .then(async (res) => {
        if (!res.ok || cancelled) return;
        const page = await res.json();
        if (cancelled) return;
        setBook((b) =>
          recounted(
            page.alerts.reduce((acc, a) => applyAlert(acc, a), b),
            page.unacknowledged,
          ),
        );
      })
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [needsRead]);

  async function older() {
    if (!book.nextCursor) return;
    const cursor = book.nextCursor;
    const outcome = await run(
      () => masterFetch('alerts', { query: { ...query, limit: ALERTS_PAGE_SIZE, cursor } }),
      false,
    );
    if (!outcome.ok) return;
    const page = (await outcome.res.json()) as AlertPage;
    setBook((b) => appendOlder(b, page));
  }

  async function acknowledge(ids: string[]) {
    if (ids.length === 0) return;
    setDone(null);
    const outcome = await run(
      () =>
        ids.length === 1
          ? masterFetch('alertAck', { params: { id: ids[0] as string } })
          : masterFetch('alertsAck', { body: { ids } }),
      false,
    );
    if (!outcome.ok) return;
    setBook((b) => acknowledgeHeld(b, ids, username));
    setDone(ids.length === 1 ? 'acknowledged' : `${ids.length} acknowledged`);
  }

  const unackedShown = book.alerts.filter((a) => !isAcknowledged(a)).map((a) => a.id);
  return (
    <>
      <div className="panel-head">
        <p className="sub" data-testid="alerts-summary" data-unacknowledged={book.unacknowledged}>
          {book.alerts.length} shown{book.nextCursor ? ', older ones below' : ''} · {book.unacknowledged} not
          acknowledged ·{' '}
          <span data-testid="alerts-live" data-state={socket.state}>
            {socket.state === 'live' ? 'live' : 'reconnecting…'}
          </span>
        </p>
        <div className="row-actions">
          <button
            type="button"
            className="button-quiet"
            disabled={busy || unackedShown.length === 0}
            onClick={() => acknowledge(unackedShown.slice(0, MAX_ACK_IDS))}
            data-testid="alerts-ack-shown"
          >
            Acknowledge all shown
          </button>
          <ActionStatus error={error} done={done} testId="alerts-status" />
        </div>
      </div>
      <div className="table-wrap">
        <table className="settings-table cards alerts-table" data-testid="alerts-table">
          <thead>
            <tr>
              <th>Severity</th>
              <th>Alert</th>
              <th>Where</th>
              <th>Raised (UTC)</th>
              <th>State</th>
              <th>Acknowledged</th>
            </tr>
          </thead>
          <tbody>
            {book.alerts.length === 0 ? (
              <tr>
                <td colSpan={6} className="empty">
                  No alerts match.
                </td>
              </tr>
            ) : (
              book.alerts.map((a) => (
                <AlertRow key={a.id} a={a} busy={busy} onAcknowledge={() => acknowledge([a.id])} />
              ))
            )}
          </tbody>
        </table>
      </div>
      <div className="form-actions">
        {book.nextCursor ? (
          <button
            type="button"
            className="button-quiet"
            onClick={older}
            disabled={busy}
            data-testid="alerts-older"
          >
            Older
          </button>
        ) : book.alerts.length > 0 ? (
          <span className="sub">The oldest alert is shown.</span>
        ) : null}
      </div>
    </>
  );
}
