'use client';

import type { NodeView } from '@cctv/protocol';
import { useFleet } from '@/lib/fleet-socket';
import { useNow } from '@/lib/use-now';
import { LiveIndicator } from './live-indicator';
import { NodeRow } from './node-row';

interface Props {
  masterPublicUrl: string;
  initialNodes: NodeView[];
  loadError: string | null;
}

export function FleetTable({ masterPublicUrl, initialNodes, loadError }: Props) {
  const { nodes, state, attempt } = useFleet(masterPublicUrl, initialNodes);
  const now = useNow();
  const online = nodes.filter((n) => n.state === 'online').length;
  // Stale nodes still say they are online but have stopped sending heartbeats: not healthy.
  const stale = nodes.filter((n) => n.state === 'stale').length;
  const cameras = nodes.reduce((sum, n) => sum + n.cameras.length, 0);

  return (
    <section className="panel">
      <header className="panel-head">
        <h1>Fleet</h1>
        <div className="summary">
          <span data-testid="online-count">
            <b>{online}</b>/{nodes.length} nodes online
          </span>
          <span data-testid="stale-count" className={stale > 0 ? 'summary-warn' : ''}>
            <b>{stale}</b> stale
          </span>
          <span>
            <b>{cameras}</b> cameras
          </span>
          <LiveIndicator state={state} attempt={attempt} />
        </div>
      </header>
      {loadError && state !== 'live' ? <p className="notice">Master unreachable: {loadError}</p> : null}
      <div className="table-wrap">
        <table className="fleet" data-testid="fleet-table">
          <thead>
            <tr>
              <th>Node</th>
              <th>Host</th>
              <th>State</th>
              <th>Agent</th>
              <th>Heartbeat</th>
              <th className="num">CPU</th>
              <th className="num">Memory</th>
              <th>Cameras</th>
            </tr>
          </thead>
          <tbody>
            {nodes.length === 0 ? (
              <tr>
                <td colSpan={8} className="empty">
                  No nodes to show: none has reported yet, or none has a camera in your access list.
                </td>
              </tr>
            ) : (
              nodes.map((n) => <NodeRow key={n.id} node={n} now={now} />)
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
