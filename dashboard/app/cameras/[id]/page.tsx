import type { Metadata } from 'next';
import { ZoneOverlay } from '@/features/cameras/zone-overlay';
import { CameraSummary } from '@/features/fleet/camera-summary';
import { LivePlayer } from '@/features/live/live-player';
import { VodPlayer } from '@/features/playback/vod-player';
import { askMaster, fetchCameras, fetchNodes } from '@/lib/master-api';
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
  const returnTo = `/cameras/${encodeURIComponent(id)}`;
  const [nodes, cameras, settings] = await Promise.all([
    fetchNodes(returnTo),
    fetchCameras(returnTo),
    askMaster('cameraSettings'),
  ]);
  // Zones and masks come from the camera's settings, which only those who may configure it read.
  const detect = settings.ok ? (settings.value.cameras.find((c) => c.id === id)?.detect ?? null) : null;
  const reported = nodes.ok ? nodes.value.flatMap((n) => n.cameras).find((c) => c.id === id) : undefined;
  const size = reported?.width && reported.height ? { width: reported.width, height: reported.height } : null;
  // The master lists only the cameras this user may see. Unreachable, it cannot say: the
  // player then asks for itself and shows what the master (or its absence) answers.
  const hidden = cameras.ok && !cameras.value.some((c) => c.id === id);
  const error = nodes.ok ? (cameras.ok ? null : cameras.error) : nodes.error;
  return (
    <section className="panel">
      <CameraSummary
        cameraId={id}
        masterPublicUrl={env.masterPublicUrl}
        initialNodes={nodes.ok ? nodes.value : []}
      />
      {error ? <p className="notice">Master unreachable: {error}</p> : null}
      {hidden ? (
        <p className="notice" role="alert" data-testid="camera-denied">
          Camera <span className="mono">{id}</span> is not in your access list or unknown, so there is nothing
          to play. An administrator can grant access to it.
        </p>
      ) : (
        <>
          <LivePlayer
            cameraId={id}
            masterPublicUrl={env.masterPublicUrl}
            overlay={<ZoneOverlay detect={detect} size={size} />}
          />
          <VodPlayer cameraId={id} />
        </>
      )}
    </section>
  );
}
