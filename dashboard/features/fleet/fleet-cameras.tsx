import type { NodeView } from '@cctv/protocol';
import Link from 'next/link';
import type { NodeFigures } from '@/features/fleet/fleet-figures';
import { formatAge, formatBytes } from '@/lib/format';
import { StateBadge } from '../../components/state-badge';

/** The cameras of one node, as its hello describes them and its last heartbeat measures them. */
export function FleetCameras({
  node,
  figures,
  now,
}: {
  node: NodeView;
  figures: NodeFigures;
  now: number | null;
}) {
  if (node.cameras.length === 0) return <p className="sub">{node.id} reports no cameras.</p>;
  return (
    <table className="fleet-cameras" aria-label={`Cameras of ${node.id}`}>
      <thead>
        <tr>
          <th scope="col">Camera</th>
          <th scope="col">State</th>
          <th scope="col">Codec</th>
          <th scope="col">Resolution</th>
          <th scope="col" className="num">
            FPS
          </th>
          <th scope="col" className="num">
            Bitrate
          </th>
          <th scope="col">Last segment</th>
          <th scope="col" className="num">
            Backlog
          </th>
        </tr>
      </thead>
      <tbody>
        {node.cameras.map((c) => {
          const hb = figures.cameras.get(c.id);
          return (
            <tr key={c.id} data-testid="camera-detail" data-camera-id={c.id}>
              <td>
                <Link href={`/cameras/${encodeURIComponent(c.id)}`}>{c.name || c.id}</Link>
                {c.name && c.name !== c.id ? <div className="sub mono">{c.id}</div> : null}
              </td>
              <td>
                <StateBadge state={c.online ? c.state : 'offline'} />
                {c.simulated ? <span className="tag">sim</span> : null}
                {hb?.reason ? <div className="sub">{hb.reason}</div> : null}
              </td>
              <td className="mono" data-testid="camera-codec">
                {c.codec ?? '—'}
                {hb?.fallback ? (
                  <div className="sub fallback" data-testid="camera-fallback" title={hb.fallback}>
                    stored as sent: {hb.fallback}
                  </div>
                ) : null}
              </td>
              <td className="mono" data-testid="camera-resolution">
                {c.width && c.height ? `${c.width}×${c.height}` : '—'}
              </td>
              <td className="num" data-testid="camera-fps">
                {c.fps ?? '—'}
                {hb?.fps !== null && hb?.fps !== undefined ? (
                  <div className="sub">measured {hb.fps.toFixed(1)}</div>
                ) : null}
              </td>
              <td className="num">{hb?.bitrateKbps != null ? `${hb.bitrateKbps.toFixed(0)} kb/s` : '—'}</td>
              <td className="mono">{formatAge(hb?.lastSegmentAt ?? null, now)}</td>
              <td className="num">
                {hb?.backlogFiles != null ? `${hb.backlogFiles} seg` : '—'}
                {hb?.backlogBytes ? <div className="sub">{formatBytes(hb.backlogBytes)}</div> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
