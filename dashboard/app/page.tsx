import { FleetTable } from '@/components/fleet-table';
import { fetchNodes } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';

// URLs come from the environment at request time, so nothing is prerendered.
export const dynamic = 'force-dynamic';

export default async function FleetPage() {
  const env = runtimeEnv();
  const nodes = await fetchNodes('/');
  return (
    <FleetTable
      masterPublicUrl={env.masterPublicUrl}
      initialNodes={nodes.ok ? nodes.value : []}
      loadError={nodes.ok ? null : nodes.error}
    />
  );
}
