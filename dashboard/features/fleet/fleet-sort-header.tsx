import type { SortDir, SortKey } from '@/features/fleet/fleet-view';

interface Props {
  column: SortKey;
  label: string;
  sort: SortKey;
  dir: SortDir;
  numeric?: boolean;
  onSort(column: SortKey): void;
}

/** A column header that sorts the table: a button inside, the order announced by `aria-sort`. */
export function FleetSortHeader({ column, label, sort, dir, numeric = false, onSort }: Props) {
  const active = sort === column;
  return (
    <th
      scope="col"
      className={numeric ? 'num' : undefined}
      aria-sort={active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}
      data-testid={`sort-${column}`}
    >
      <button
        type="button"
        className={`fleet-sort${active ? ' fleet-sort-active' : ''}`}
        onClick={() => onSort(column)}
      >
        {label}
        <span className="fleet-sort-arrow" aria-hidden="true">
          {active ? (dir === 'asc' ? '▲' : '▼') : '↕'}
        </span>
      </button>
    </th>
  );
}
