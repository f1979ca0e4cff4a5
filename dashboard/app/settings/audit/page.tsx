import type { Metadata } from 'next';
import { SettingsPage, SettingsRefusal } from '@/components/settings-tabs';
import { AuditEntries } from '@/features/audit/audit-entries';
import { AuditFilterForm } from '@/features/audit/audit-filter-form';
import {
  AUDIT_PAGE_SIZE,
  auditQuery,
  auditSearch,
  badRange,
  parseAuditFilters,
} from '@/features/audit/audit-filters';
import { askMaster } from '@/lib/master-api';
import '../settings.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Audit log · CCTV control room' };

interface Props {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

const sorted = (ids: Iterable<string>) => [...new Set(ids)].sort();

/** Admins: who did what, filtered, paged and downloadable as CSV. */
export default async function AuditLogPage({ searchParams }: Props) {
  const filters = parseAuditFilters(await searchParams);
  const [page, users, nodes] = await Promise.all([
    badRange(filters)
      ? null
      : askMaster('audit', { query: { ...auditQuery(filters), limit: AUDIT_PAGE_SIZE } }),
    askMaster('users'),
    askMaster('nodes'),
  ]);
  const nodeList = nodes.ok ? nodes.value : [];
  return (
    <SettingsPage current="/settings/audit" title="Audit log">
      <section className="panel">
        <AuditFilterForm
          filters={filters}
          users={sorted(users.ok ? users.value.map((u) => u.username) : [])}
          nodes={sorted(nodeList.map((n) => n.id))}
          cameras={sorted(nodeList.flatMap((n) => n.cameras.map((c) => c.id)))}
        />
      </section>
      <section className="panel" data-testid="audit-page">
        {page === null ? (
          <p className="notice">"From" must be earlier than "to".</p>
        ) : page.ok ? (
          // New filters are a new list: its entries and cursor start afresh.
          <AuditEntries key={auditSearch(filters)} first={page.value} filters={filters} />
        ) : (
          <SettingsRefusal answer={page} returnTo="/settings/audit" />
        )}
      </section>
    </SettingsPage>
  );
}
