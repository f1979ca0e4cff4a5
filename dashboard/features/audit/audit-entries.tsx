'use client';

import type { AuditEntryView, AuditPage } from '@cctv/protocol';
import { masterPaths } from '@cctv/protocol/master-routes';
import { useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { AUDIT_PAGE_SIZE, type AuditFilters, auditQuery, detailText } from './audit-filters';

const second = (iso: string) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19);

function EntryRow({ e }: { e: AuditEntryView }) {
  return (
    <tr data-testid="audit-entry" data-action={e.action} data-id={e.id}>
      <td data-label="Time" className="mono">
        {second(e.at)}
      </td>
      <td data-label="User">{e.username}</td>
      <td data-label="Action" className="mono">
        {e.action}
      </td>
      <td data-label="Camera" className="mono">
        {e.cameraId ?? '—'}
      </td>
      <td data-label="Node" className="mono">
        {e.nodeId ?? '—'}
      </td>
      <td data-label="Address" className="mono">
        {e.ip ?? '—'}
      </td>
      <td data-label="Detail" className="audit-detail">
        {detailText(e.detail)}
      </td>
    </tr>
  );
}

/** The entries matching the filters, newest first; "Older" reads the next page. */
export function AuditEntries({ first, filters }: { first: AuditPage; filters: AuditFilters }) {
  const [entries, setEntries] = useState(first.entries);
  const [cursor, setCursor] = useState(first.nextCursor);
  const { busy, error, run } = useMasterAction();
  const query = auditQuery(filters);

  async function older() {
    if (!cursor) return;
    const outcome = await run(
      () => masterFetch('audit', { query: { ...query, limit: AUDIT_PAGE_SIZE, cursor } }),
      false,
    );
    if (!outcome.ok) return;
    const page = (await outcome.res.json()) as AuditPage;
    setEntries((list) => [...list, ...page.entries]);
    setCursor(page.nextCursor);
  }

  return (
    <>
      <div className="panel-head">
        <p className="sub">
          {entries.length} {entries.length === 1 ? 'entry' : 'entries'} shown
          {cursor ? ', older ones below' : ''}
        </p>
        <a
          className="button-quiet button-link"
          href={masterPaths.auditExport(query)}
          download
          data-testid="audit-csv"
        >
          Download CSV
        </a>
      </div>
      <div className="table-wrap">
        <table className="settings-table cards audit-table" data-testid="audit-table">
          <thead>
            <tr>
              <th>Time (UTC)</th>
              <th>User</th>
              <th>Action</th>
              <th>Camera</th>
              <th>Node</th>
              <th>Address</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {entries.length === 0 ? (
              <tr>
                <td colSpan={7} className="empty">
                  No entries match.
                </td>
              </tr>
            ) : (
              entries.map((e) => <EntryRow key={e.id} e={e} />)
            )}
          </tbody>
        </table>
      </div>
      <div className="form-actions audit-more">
        {cursor ? (
          <button
            type="button"
            className="button-quiet"
            onClick={older}
            disabled={busy}
            data-testid="audit-older"
          >
            Older
          </button>
        ) : entries.length > 0 ? (
          <span className="sub">The oldest entry is shown.</span>
        ) : null}
        {error ? (
          <span className="form-error" role="alert">
            {error}
          </span>
        ) : null}
      </div>
    </>
  );
}
