'use client';

import type { NodeView } from '@cctv/protocol';
import Link from 'next/link';
import { useFleet } from '@/features/fleet/fleet-socket';
import { formatAge } from '@/lib/format';
import { useNow } from '@/lib/use-now';
import { StateBadge } from '../../components/state-badge';
import { LiveIndicator } from '../live/live-indicator';

interface Props {
  cameraId: string;
  masterPublicUrl: string;
  initialNodes: NodeView[];
}

/** Name, node and state of one camera, kept current by the fleet websocket. */
export function CameraSummary({ cameraId, masterPublicUrl, initialNodes }: Props) {
  const { nodes, state, attempt } = useFleet(masterPublicUrl, initialNodes);
  const now = useNow();
  const node = nodes.find((n) => n.cameras.some((c) => c.id === cameraId));
  const camera = node?.cameras.find((c) => c.id === cameraId);

  return (
    <header className="panel-head">
      <div>
        <h1 data-testid="camera-name">{camera?.name || cameraId}</h1>
        <div className="facts">
          <span className="mono">{cameraId}</span>
          {node ? (
            <span>
              on <span className="mono">{node.id}</span>
              {node.hostname ? ` (${node.hostname})` : ''} <StateBadge state={node.state} />
            </span>
          ) : (
            <span className="sub">not reported by any node</span>
          )}
          {camera ? (
            <span data-testid="camera-state">
              camera <StateBadge state={camera.online ? camera.state : 'offline'} />
            </span>
          ) : null}
          {camera?.codec ? (
            <span className="mono">
              {camera.codec}
              {camera.width && camera.height ? ` ${camera.width}×${camera.height}` : ''}
              {camera.fps ? ` @${camera.fps}fps` : ''}
              {camera.simulated ? ' (simulated)' : ''}
            </span>
          ) : null}
          {node ? <span className="sub">heartbeat {formatAge(node.lastHeartbeatAt, now)}</span> : null}
        </div>
      </div>
      <div className="summary">
        <Link href="/">← fleet</Link>
        <LiveIndicator state={state} attempt={attempt} />
      </div>
    </header>
  );
}
