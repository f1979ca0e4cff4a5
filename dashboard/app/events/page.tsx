import type { Metadata } from 'next';
import { filtersToSearch, parseFilters } from '@/features/events/event-filters';
import { EventSearch } from '@/features/events/event-search';
import { askMaster, fetchCameras } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
import './events.css';

// URLs come from the environment at request time, and the filters from the query.
export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Events · CCTV control room' };

interface Props {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

export default async function EventsPage({ searchParams }: Props) {
  const { filters, dropped } = parseFilters(await searchParams);
  const query = filtersToSearch(filters);
  const [cameras, settings] = await Promise.all([
    fetchCameras(`/events${query}`),
    askMaster('cameraSettings'),
  ]);
  // Zone names to offer: from the cameras' settings, which only those who configure cameras may read.
  const zoneNames = settings.ok
    ? [
        ...new Set(settings.value.cameras.flatMap((c) => c.detect?.motion?.zones?.map((z) => z.name) ?? [])),
      ].sort()
    : [];
  const options = cameras.ok
    ? cameras.value
        .map((c) => ({ id: c.id, name: c.name || c.id }))
        .sort((a, b) => a.name.localeCompare(b.name))
    : [];
  return (
    <section className="panel events-page">
      {cameras.ok ? null : <p className="notice">Master unreachable: {cameras.error}</p>}
      {dropped.length > 0 ? (
        <p className="notice" data-testid="events-dropped">
          Ignored from the address: {dropped.join(', ')} (not a valid value).
        </p>
      ) : null}
      {/* A new set of filters is a new search: its list, cursor and window start afresh. */}
      <EventSearch
        key={query}
        filters={filters}
        cameras={options}
        zoneNames={zoneNames}
        masterPublicUrl={runtimeEnv().masterPublicUrl}
      />
    </section>
  );
}
