import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { CameraSettings } from '@/features/cameras/camera-settings';
import { askMaster, fetchNodes } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
import { loginPath } from '@/lib/session';
// The form's fields look like the event search's.
import '../../events/events.css';
import './cameras.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Cameras · CCTV control room' };

const PATH = '/settings/cameras';

/** Admins (and operators, for the cameras they have): the desired cameras of the master-managed nodes. */
export default async function CameraSettingsPage() {
  const [settings, nodes] = await Promise.all([askMaster('cameraSettings'), fetchNodes(PATH)]);
  if ('unauthenticated' in settings) redirect(loginPath(PATH));
  return (
    <section className="panel cameras-page" data-testid="camera-settings-page">
      {settings.ok ? (
        <CameraSettings
          initial={settings.value}
          initialNodes={nodes.ok ? nodes.value : []}
          masterPublicUrl={runtimeEnv().masterPublicUrl}
        />
      ) : (
        <>
          <h1>Cameras</h1>
          <p className="notice" data-testid="camera-settings-error">
            {settings.status === 403
              ? 'Admins and operators only: ask an admin to add or change cameras.'
              : `Master unreachable: ${settings.error}`}
          </p>
        </>
      )}
    </section>
  );
}
