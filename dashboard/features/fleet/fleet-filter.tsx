import type { NodeView } from '@cctv/protocol';
import { STATE_FILTERS, type StateFilter } from '@/features/fleet/fleet-view';

interface Props {
  query: string;
  state: StateFilter;
  nodes: NodeView[];
  shown: number;
  onQuery(query: string): void;
  onState(state: StateFilter): void;
}

/** The text filter (node, host, camera) and the state filter above the fleet table. */
export function FleetFilter({ query, state, nodes, shown, onQuery, onState }: Props) {
  const count = (s: StateFilter) => (s === 'all' ? nodes.length : nodes.filter((n) => n.state === s).length);
  const filtered = query !== '' || state !== 'all';
  return (
    <search className="fleet-filter" aria-label="Filter the fleet">
      <label className="fleet-field">
        <span>Filter</span>
        <input
          type="search"
          value={query}
          placeholder="node, host or camera"
          onChange={(e) => onQuery(e.target.value)}
          data-testid="fleet-filter"
          maxLength={200}
        />
      </label>
      <label className="fleet-field">
        <span>State</span>
        <select
          value={state}
          onChange={(e) => onState(e.target.value as StateFilter)}
          data-testid="fleet-state-filter"
        >
          {STATE_FILTERS.map((s) => (
            <option key={s} value={s}>
              {s === 'all' ? 'all states' : s} ({count(s)})
            </option>
          ))}
        </select>
      </label>
      {filtered ? (
        <button
          type="button"
          className="button-quiet"
          onClick={() => {
            onQuery('');
            onState('all');
          }}
        >
          Clear filter
        </button>
      ) : null}
      <span className="sub" data-testid="fleet-shown" data-shown={shown} aria-live="polite">
        {filtered ? `showing ${shown} of ${nodes.length} nodes` : `${nodes.length} nodes`}
      </span>
    </search>
  );
}
