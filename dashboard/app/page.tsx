import { FleetTable } from '@/features/fleet/fleet-table';
import { viewFromParams, viewSearch } from '@/features/fleet/fleet-view';
import { fetchNodes } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';

// URLs come from the environment at request time, so nothing is prerendered.
export const dynamic = 'force-dynamic';

type SearchParams = Record<string, string | string[] | undefined>;

export default async function FleetPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const env = runtimeEnv();
  const [nodes, params] = await Promise.all([fetchNodes('/'), searchParams]);
  const view = viewFromParams(params);
  return (
    <FleetTable
      // A link to another filter (an alert's node) starts the table afresh with it.
      key={viewSearch(view)}
      masterPublicUrl={env.masterPublicUrl}
      initialNodes={nodes.ok ? nodes.value : []}
      loadError={nodes.ok ? null : nodes.error}
      initialView={view}
    />
  );
}
