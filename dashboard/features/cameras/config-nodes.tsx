'use client';

import type { CameraChangeAnswer, CameraSettingsList } from '@cctv/protocol';
import { useState } from 'react';
import { StateBadge } from '@/components/state-badge';
import { syncText } from './camera-form';
import { NodeVersions } from './node-versions';

/** The master-managed nodes: state, whether each runs its desired configuration, and its versions on demand. */
export function ConfigNodes({
  nodes,
  onRolledBack,
}: {
  nodes: CameraSettingsList['nodes'];
  onRolledBack: (answer: CameraChangeAnswer) => void;
}) {
  const [versionsOf, setVersionsOf] = useState<string | null>(null);
  if (nodes.length === 0) return null;
  return (
    <>
      <h2 className="camera-nodes-title">Nodes</h2>
      <ul className="camera-nodes">
        {nodes.map((n) => (
          <li key={n.id} data-testid="config-node" data-node-id={n.id}>
            <div className="camera-node-line">
              <span className="mono">{n.id}</span>
              <StateBadge state={n.state} />
              <span data-testid="node-sync">{syncText(n.config)}</span>
              <button
                type="button"
                className="button-quiet"
                aria-expanded={versionsOf === n.id}
                onClick={() => setVersionsOf(versionsOf === n.id ? null : n.id)}
              >
                {versionsOf === n.id ? 'Hide versions' : 'Versions'}
              </button>
            </div>
            {versionsOf === n.id ? (
              <NodeVersions
                nodeId={n.id}
                desiredVersion={n.config.desiredVersion}
                onRolledBack={onRolledBack}
              />
            ) : null}
          </li>
        ))}
      </ul>
    </>
  );
}
