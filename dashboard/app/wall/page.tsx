import type { Metadata } from 'next';
import { LiveWall } from '@/features/live/live-wall';
import { fitWall } from '@/features/live/wall';
import { fetchCameras, fetchNodes, fetchSetting } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
import './wall.css';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Live wall · CCTV control room' };

export default async function WallPage() {
  const env = runtimeEnv();
  const [nodes, cameras, saved] = await Promise.all([
    fetchNodes('/wall'),
    fetchCameras('/wall'),
    fetchSetting('wall', '/wall'),
  ]);
  const list = cameras.ok ? cameras.value : [];
  return (
    <>
      {cameras.ok ? null : <p className="notice">Master unreachable: {cameras.error}</p>}
      <LiveWall
        masterPublicUrl={env.masterPublicUrl}
        initialNodes={nodes.ok ? nodes.value : []}
        cameras={list}
        initialWall={fitWall(
          saved.ok ? saved.value : null,
          list.map((c) => c.id),
        )}
      />
    </>
  );
}
