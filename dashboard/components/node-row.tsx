import type { NodeView } from '@cctv/protocol';
import Link from 'next/link';
import { formatAge, formatBytes, formatPercent } from '@/lib/format';
import { heartbeatFigures } from '@/lib/heartbeat';
import { StateBadge } from './state-badge';

export function NodeRow({ node, now }: { node: NodeView; now: number | null }) {
  const hb = heartbeatFigures(node.heartbeat);
  // A stale node may still be recording; only an offline one fades into the background.
  const offline = node.state === 'offline';
  return (
    <tr
      data-testid="node-row"
      data-node-id={node.id}
      data-state={node.state}
      className={offline ? 'dim' : ''}
    >
      <td className="mono">{node.id}</td>
      <td>
        {node.hostname ?? '—'}
        {node.platform ? <div className="sub">{`${node.platform}/${node.arch ?? '?'}`}</div> : null}
      </td>
      <td>
        <StateBadge state={node.state} />
        <div className="sub">since {formatAge(node.stateChangedAt, now)}</div>
      </td>
      <td className="mono">{node.agentVersion ?? '—'}</td>
      <td className="mono" data-testid="heartbeat-age">
        {formatAge(node.lastHeartbeatAt, now)}
      </td>
      <td className="num">{formatPercent(hb.cpuPercent)}</td>
      <td className="num">
        {formatBytes(hb.memUsedBytes)}
        {hb.memTotalBytes !== null ? <div className="sub">of {formatBytes(hb.memTotalBytes)}</div> : null}
      </td>
      <td>
        {node.cameras.length === 0 ? (
          <span className="sub">no cameras</span>
        ) : (
          <ul className="camera-list">
            {node.cameras.map((c) => (
              <li key={c.id} data-testid="camera-item" data-camera-id={c.id}>
                <Link href={`/cameras/${encodeURIComponent(c.id)}`}>{c.name || c.id}</Link>
                <StateBadge state={c.online ? c.state : 'offline'} />
                {c.simulated ? <span className="tag">sim</span> : null}
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}
