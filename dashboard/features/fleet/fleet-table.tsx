'use client';

import type { NodeView } from '@cctv/protocol';
import { type ReactNode, useCallback, useEffect, useMemo, useState } from 'react';
import { useFleet } from '@/features/fleet/fleet-socket';
import {
  DEFAULT_VIEW,
  type FleetView,
  fleetRows,
  type SortKey,
  viewSearch,
} from '@/features/fleet/fleet-view';
import { useNow } from '@/lib/use-now';
import { LiveIndicator } from '../live/live-indicator';
import { FleetFilter } from './fleet-filter';
import { FleetSortHeader } from './fleet-sort-header';
import { NODE_COLUMNS, NodeRow } from './node-row';
import './fleet.css';

interface Props {
  masterPublicUrl: string;
  initialNodes: NodeView[];
  loadError: string | null;
  /** Filter and sort from the page's URL. */
  initialView?: FleetView;
  /** Shown at the right of the header (the alert bell). */
  actions?: ReactNode;
}

const COLUMNS: { key: SortKey; label: string; numeric?: boolean; firstDir: 'asc' | 'desc' }[] = [
  { key: 'node', label: 'Node', firstDir: 'asc' },
  { key: 'host', label: 'Host', firstDir: 'asc' },
  // Ascending puts healthy nodes first; a first click shows the troubled ones on top.
  { key: 'state', label: 'State', firstDir: 'desc' },
  { key: 'agent', label: 'Agent', firstDir: 'asc' },
  { key: 'heartbeat', label: 'Heartbeat', firstDir: 'desc' },
  // A first click shows the clocks furthest off on top.
  { key: 'clock', label: 'Clock', numeric: true, firstDir: 'desc' },
  { key: 'cpu', label: 'CPU', numeric: true, firstDir: 'desc' },
  { key: 'memory', label: 'Memory', numeric: true, firstDir: 'desc' },
  { key: 'temp', label: 'Temp', numeric: true, firstDir: 'desc' },
  { key: 'disk', label: 'Spool disk', numeric: true, firstDir: 'desc' },
  { key: 'backlog', label: 'Backlog', numeric: true, firstDir: 'desc' },
  { key: 'cameras', label: 'Cameras', firstDir: 'desc' },
];

export function FleetTable({ masterPublicUrl, initialNodes, loadError, initialView, actions }: Props) {
  const { nodes, state, attempt } = useFleet(masterPublicUrl, initialNodes);
  const now = useNow();
  const [view, setView] = useState<FleetView>(initialView ?? DEFAULT_VIEW);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => fleetRows(nodes, view), [nodes, view]);

  const online = nodes.filter((n) => n.state === 'online').length;
  // Stale nodes still say they are online but have stopped sending heartbeats: not healthy.
  const stale = nodes.filter((n) => n.state === 'stale').length;
  const cameras = nodes.reduce((sum, n) => sum + n.cameras.length, 0);

  // The URL follows the view without a navigation, so a filtered table can be linked and reloaded.
  useEffect(() => {
    const search = viewSearch(view);
    if (window.location.search === search) return;
    window.history.replaceState(window.history.state, '', `${window.location.pathname}${search}`);
  }, [view]);

  const sortBy = useCallback((key: SortKey) => {
    setView((v) => {
      const column = COLUMNS.find((c) => c.key === key);
      if (v.sort === key) return { ...v, dir: v.dir === 'asc' ? 'desc' : 'asc' };
      return { ...v, sort: key, dir: column?.firstDir ?? 'asc' };
    });
  }, []);

  const toggle = useCallback((nodeId: string) => {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (!next.delete(nodeId)) next.add(nodeId);
      return next;
    });
  }, []);

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
          {actions}
        </div>
      </header>
      {loadError && state !== 'live' ? <p className="notice">Master unreachable: {loadError}</p> : null}
      <FleetFilter
        query={view.query}
        state={view.state}
        nodes={nodes}
        shown={rows.length}
        onQuery={(query) => setView((v) => ({ ...v, query }))}
        onState={(s) => setView((v) => ({ ...v, state: s }))}
      />
      <div className="table-wrap">
        <table className="fleet cards" data-testid="fleet-table">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <FleetSortHeader
                  key={c.key}
                  column={c.key}
                  label={c.label}
                  numeric={c.numeric}
                  sort={view.sort}
                  dir={view.dir}
                  onSort={sortBy}
                />
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 ? (
              <tr>
                <td colSpan={NODE_COLUMNS} className="empty" data-testid="fleet-empty">
                  {nodes.length === 0
                    ? 'No nodes to show: none has reported yet, or none has a camera in your access list.'
                    : 'No node matches the filter.'}
                </td>
              </tr>
            ) : (
              rows.map((r) => (
                <NodeRow
                  key={r.node.id}
                  node={r.node}
                  figures={r.figures}
                  now={now}
                  expanded={expanded.has(r.node.id)}
                  onToggle={toggle}
                />
              ))
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
