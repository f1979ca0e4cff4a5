import type { NodeView } from '@cctv/protocol';
import Link from 'next/link';
import type { NodeFigures } from '@/features/fleet/fleet-figures';
import { formatAge, formatBytes, formatPercent } from '@/lib/format';
import { StateBadge } from '../../components/state-badge';
import { ClockCell } from './clock-cell';
import { ConfigSync } from './config-sync';
import { FleetCameras } from './fleet-cameras';

/** Columns of a node row; the expanded camera row spans them all. */
export const NODE_COLUMNS = 12;

/** A spool upload backlog older than this is worth a colour. */
const OLD_BACKLOG_MS = 5 * 60_000;

interface Props {
  node: NodeView;
  figures: NodeFigures;
  now: number | null;
  expanded: boolean;
  onToggle(nodeId: string): void;
}

/** A thin bar under a figure; the figure itself is the text beside it. */
function Meter({ fraction, level }: { fraction: number | null; level: 'ok' | 'warn' | 'bad' }) {
  if (fraction === null) return null;
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  return (
    <span className={`fleet-meter fleet-meter-${level}`} aria-hidden="true">
      <span style={{ width: `${pct}%` }} />
    </span>
  );
}

const level = (fraction: number | null, warn: number, bad: number) =>
  fraction === null || fraction < warn ? 'ok' : fraction < bad ? 'warn' : 'bad';

export function NodeRow({ node, figures: f, now, expanded, onToggle }: Props) {
  // A stale node may still be recording; only an offline one fades into the background.
  const offline = node.state === 'offline';
  const detailId = `fleet-cameras-${node.id}`;
  const cpu = f.hostCpuPercent ?? f.agentCpuPercent;
  const memFraction = f.memUsedBytes !== null && f.memTotalBytes ? f.memUsedBytes / f.memTotalBytes : null;
  const temp = f.tempC;
  const backlogOld =
    f.backlogOldestAt !== null && now !== null && now - Date.parse(f.backlogOldestAt) > OLD_BACKLOG_MS;

  return (
    <>
      <tr
        data-testid="node-row"
        data-node-id={node.id}
        data-state={node.state}
        className={`${offline ? 'dim' : ''}${expanded ? ' fleet-row-open' : ''}`}
      >
        <td className="mono fleet-node-cell" data-label="Node">
          <button
            type="button"
            className="fleet-expand"
            aria-expanded={expanded}
            aria-controls={expanded ? detailId : undefined}
            aria-label={`${expanded ? 'Hide' : 'Show'} the cameras of ${node.id}`}
            onClick={() => onToggle(node.id)}
            data-testid="node-expand"
          >
            <span aria-hidden="true">{expanded ? '▾' : '▸'}</span>
          </button>
          {node.id}
        </td>
        <td data-label="Host">
          {node.hostname ?? '—'}
          {node.platform ? <div className="sub">{`${node.platform}/${node.arch ?? '?'}`}</div> : null}
        </td>
        <td data-label="State">
          <StateBadge state={node.state} />
          <div className="sub">since {formatAge(node.stateChangedAt, now)}</div>
        </td>
        <td className="mono" data-testid="cell-agent" data-label="Agent">
          {node.agentVersion ?? '—'}
          <ConfigSync config={node.config} />
        </td>
        <td
          className={`mono${node.state === 'stale' ? ' fleet-warn' : ''}`}
          data-testid="heartbeat-age"
          data-label="Heartbeat"
        >
          {formatAge(node.lastHeartbeatAt, now)}
        </td>
        <ClockCell heartbeat={node.heartbeat} now={now} />
        <td className="num" data-testid="cell-cpu" data-value={cpu ?? ''} data-label="CPU">
          {formatPercent(cpu)}
          <Meter
            fraction={f.hostCpuPercent !== null ? f.hostCpuPercent / 100 : null}
            level={level(cpu, 70, 90)}
          />
          {f.hostCpuPercent !== null && f.agentCpuPercent !== null ? (
            <div className="sub">agent {formatPercent(f.agentCpuPercent)}</div>
          ) : null}
        </td>
        <td className="num" data-testid="cell-memory" data-label="Memory">
          {formatBytes(f.memUsedBytes)}
          <Meter fraction={memFraction} level={level(memFraction, 0.8, 0.92)} />
          {f.memTotalBytes !== null ? <div className="sub">of {formatBytes(f.memTotalBytes)}</div> : null}
        </td>
        <td
          className={`num${temp !== null && temp >= 80 ? ' fleet-bad' : temp !== null && temp >= 70 ? ' fleet-warn' : ''}`}
          data-testid="cell-temp"
          data-label="Temperature"
        >
          {temp === null ? '—' : `${temp.toFixed(0)} °C`}
        </td>
        <td className="num" data-testid="cell-disk" data-label="Spool disk">
          {formatBytes(f.spoolUsedBytes)}
          <Meter fraction={f.diskUsedFraction} level={level(f.diskUsedFraction, 0.85, 0.95)} />
          {f.spoolFreeBytes !== null ? <div className="sub">{formatBytes(f.spoolFreeBytes)} free</div> : null}
        </td>
        <td
          className={`num${backlogOld ? ' fleet-warn' : ''}`}
          data-testid="cell-backlog"
          data-label="Backlog"
        >
          {f.backlogFiles === null ? '—' : `${f.backlogFiles} seg`}
          {f.backlogBytes !== null && f.backlogFiles ? (
            <div className="sub">{formatBytes(f.backlogBytes)}</div>
          ) : null}
          {f.backlogOldestAt ? <div className="sub">oldest {formatAge(f.backlogOldestAt, now)}</div> : null}
        </td>
        <td data-label="Cameras">
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
      {expanded ? (
        <tr id={detailId} className="fleet-detail" data-testid="node-detail" data-node-id={node.id}>
          <td colSpan={NODE_COLUMNS}>
            <FleetCameras node={node} figures={f} now={now} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
