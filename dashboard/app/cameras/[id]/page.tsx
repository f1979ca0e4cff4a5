import { vodPath } from '@cctv/protocol';
import type { Metadata } from 'next';
import { CameraSummary } from '@/components/camera-summary';
import { VodPlayer } from '@/components/vod-player';
import { fetchNodes } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';

export const dynamic = 'force-dynamic';

/** Segment params may arrive still percent-encoded; ids never contain `%`, so decoding twice is harmless. */
function cameraIdParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

interface Props {
  params: Promise<{ id: string }>;
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { id } = await params;
  return { title: `${cameraIdParam(id)} · CCTV control room` };
}

export default async function CameraPage({ params }: Props) {
  const id = cameraIdParam((await params).id);
  const env = runtimeEnv();
  const nodes = await fetchNodes();
  return (
    <section className="panel">
      <CameraSummary
        cameraId={id}
        masterPublicUrl={env.masterPublicUrl}
        initialNodes={nodes.ok ? nodes.value : []}
      />
      {nodes.ok ? null : <p className="notice">Master unreachable: {nodes.error}</p>}
      <VodPlayer playlistUrl={`${env.gatewayPublicUrl}${vodPath(id)}`} />
    </section>
  );
}
