import type { Metadata } from 'next';
import { SettingsRefusal } from '@/components/settings-tabs';
import { AlertFilterForm } from '@/features/alerts/alert-filter-form';
import {
  ALERTS_PAGE_SIZE,
  alertQuery,
  alertSearch,
  parseAlertFilters,
} from '@/features/alerts/alert-filters';
import { AlertHistory } from '@/features/alerts/alert-history';
import { DeadLetters } from '@/features/alerts/dead-letters';
import { askMaster, fetchSessionUser } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
import '../settings/settings.css';
import '@/features/alerts/alerts.css';

// The filters come from the query, the URLs from the environment at request time.
export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Alerts · CCTV control room' };

interface Props {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

/** The alerts the user may see, filtered and paged, live; for admins also the dead letters. */
export default async function AlertsPage({ searchParams }: Props) {
  const filters = parseAlertFilters(await searchParams);
  const search = alertSearch(filters);
  const [page, user] = await Promise.all([
    askMaster('alerts', { query: { ...alertQuery(filters), limit: ALERTS_PAGE_SIZE } }),
    fetchSessionUser(),
  ]);
  const admin = user?.role === 'admin';
  const dead = admin ? await askMaster('alertDeliveries', { query: { state: 'dead', limit: 50 } }) : null;
  return (
    <div className="settings-page alerts-page">
      <h1 className="settings-title">Alerts</h1>
      <section className="panel">
        <AlertFilterForm filters={filters} />
      </section>
      <section className="panel" data-testid="alerts-page">
        {page.ok ? (
          // New filters are a new list: its alerts and cursor start afresh.
          <AlertHistory
            key={search}
            first={page.value}
            filters={filters}
            masterPublicUrl={runtimeEnv().masterPublicUrl}
            username={user?.username ?? ''}
          />
        ) : (
          <SettingsRefusal answer={page} returnTo={`/alerts${search}`} />
        )}
      </section>
      {dead ? (
        <section className="panel" data-testid="dead-letters">
          <h2>Dead letters</h2>
          {dead.ok ? (
            <DeadLetters first={dead.value} />
          ) : (
            <SettingsRefusal answer={dead} returnTo="/alerts" />
          )}
        </section>
      ) : null}
    </div>
  );
}
