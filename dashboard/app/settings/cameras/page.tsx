import type { Metadata } from 'next';
import { SettingsPage, SettingsRefusal } from '@/components/settings-tabs';
import { CameraSettings } from '@/features/cameras/camera-settings';
import { askMaster, fetchNodes } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
// The form's fields look like the event search's.
import '../../events/events.css';
import '../settings.css';
import './cameras.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Cameras · CCTV control room' };

const PATH = '/settings/cameras';

/** Admins (and operators, for the cameras they have): the desired cameras of the master-managed nodes. */
export default async function CameraSettingsPage() {
  const [settings, nodes] = await Promise.all([askMaster('cameraSettings'), fetchNodes(PATH)]);
  return (
    <SettingsPage current={PATH} title="Cameras">
      <section className="panel cameras-page" data-testid="camera-settings-page">
        {settings.ok ? (
          <CameraSettings
            initial={settings.value}
            initialNodes={nodes.ok ? nodes.value : []}
            masterPublicUrl={runtimeEnv().masterPublicUrl}
          />
        ) : (
          <SettingsRefusal answer={settings} returnTo={PATH} />
        )}
      </section>
    </SettingsPage>
  );
}
