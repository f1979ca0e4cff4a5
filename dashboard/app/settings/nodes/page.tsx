import type { Metadata } from 'next';
import { SettingsPage, SettingsRefusal } from '@/components/settings-tabs';
import { InstallLine } from '@/features/install/install-line';
import { EnrolForm } from '@/features/nodes/enrol-form';
import { defaultAgentUrls, NODE_ADMIN_COLUMNS } from '@/features/nodes/node-admin';
import { NodeAdminRow } from '@/features/nodes/node-admin-row';
import { askMaster } from '@/lib/master-api';
import { runtimeEnv } from '@/lib/runtime-env';
import '../settings.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Nodes · CCTV control room' };

/**
 * Admins: every node with its agent, configuration and problems; enrolment, credentials and
 * restarts. The page is a list of panels (`section.panel`), each on its own: a new one (an
 * installer, say) is one more section below.
 */
export default async function NodesPage() {
  const nodes = await askMaster('nodes');
  const urls = defaultAgentUrls(runtimeEnv().masterPublicUrl);
  return (
    <SettingsPage current="/settings/nodes" title="Nodes">
      <section className="panel" data-testid="nodes-page">
        {nodes.ok ? (
          <div className="table-wrap">
            <table className="settings-table cards nodes-table">
              <thead>
                <tr>
                  <th>Node</th>
                  <th>State</th>
                  <th>Agent</th>
                  <th>Managed by</th>
                  <th>Config</th>
                  <th>Last errors</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {nodes.value.length === 0 ? (
                  <tr>
                    <td colSpan={NODE_ADMIN_COLUMNS} className="empty">
                      No node has connected yet.
                    </td>
                  </tr>
                ) : (
                  [...nodes.value]
                    .sort((a, b) => a.id.localeCompare(b.id))
                    .map((n) => <NodeAdminRow key={n.id} node={n} urls={urls} />)
                )}
              </tbody>
            </table>
          </div>
        ) : (
          <SettingsRefusal answer={nodes} returnTo="/settings/nodes" />
        )}
      </section>
      <section className="panel">
        <EnrolForm urls={urls} />
      </section>
      <InstallLine />
    </SettingsPage>
  );
}
