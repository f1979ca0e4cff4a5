'use client';

import type { AlertDeliveryPage, AlertDeliveryView } from '@cctv/protocol';
import { useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';

const second = (iso: string) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19);

function DeadRow({ d, onRetried }: { d: AlertDeliveryView; onRetried(next: AlertDeliveryView): void }) {
  const { busy, error, run } = useMasterAction();
  async function retry() {
    const outcome = await run(() => masterFetch('alertDeliveryRetry', { params: { id: d.id } }), false);
    if (outcome.ok) onRetried((await outcome.res.json()) as AlertDeliveryView);
  }
  return (
    <tr data-testid="dead-letter" data-delivery-id={d.id} data-state={d.state}>
      <td data-label="When (UTC)" className="mono">
        {second(d.createdAt)}
      </td>
      <td data-label="Channel">
        {d.channelName ?? d.channelId}
        {d.channelKind ? <span className="sub"> · {d.channelKind}</span> : null}
      </td>
      <td data-label="Alert">
        {d.alertMessage} <span className="sub">({d.phase})</span>
      </td>
      <td data-label="Attempts" className="mono">
        {d.attempts}
      </td>
      <td data-label="Error" className="dead-error">
        {d.lastError ?? '—'}
      </td>
      <td>
        <div className="row-actions">
          {d.state === 'dead' ? (
            <button type="button" className="button-quiet" disabled={busy} onClick={retry}>
              Retry
            </button>
          ) : (
            <span className="sub">{d.state === 'pending' ? 'sending again' : d.state}</span>
          )}
          <ActionStatus error={error} done={null} />
        </div>
      </td>
    </tr>
  );
}

/** Deliveries the master gave up on (a refusal, too many attempts, a removed channel). */
export function DeadLetters({ first }: { first: AlertDeliveryPage }) {
  const [rows, setRows] = useState(first.deliveries);
  return (
    <div className="table-wrap">
      <table className="settings-table cards dead-table" data-testid="dead-table">
        <thead>
          <tr>
            <th>When (UTC)</th>
            <th>Channel</th>
            <th>Alert</th>
            <th>Attempts</th>
            <th>Error</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={6} className="empty">
                No dead letters: every notification was delivered or is still being sent.
              </td>
            </tr>
          ) : (
            rows.map((d) => (
              <DeadRow
                key={d.id}
                d={d}
                onRetried={(next) => setRows((list) => list.map((x) => (x.id === next.id ? next : x)))}
              />
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
