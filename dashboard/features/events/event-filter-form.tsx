'use client';

import type { EventType } from '@cctv/protocol';
import { type FormEvent, useEffect, useState } from 'react';
import {
  DEFAULT_WINDOW_MS,
  type EventFilters,
  fromLocalInput,
  NO_FILTERS,
  parseZones,
  toLocalInput,
} from '@/features/events/event-filters';

export interface CameraOption {
  id: string;
  name: string;
}

interface Draft {
  camera: string;
  type: EventType | 'any';
  from: string;
  to: string;
  /** Percent, as typed. */
  minScore: string;
  /** Zone names, comma-separated, as typed. */
  zones: string;
}

function draftOf(f: EventFilters, defaultFrom: string): Draft {
  return {
    camera: f.camera ?? '',
    type: f.type ?? 'any',
    from: f.from ? toLocalInput(f.from) : defaultFrom,
    to: toLocalInput(f.to),
    minScore: f.minScore !== null && f.minScore > 0 ? String(Math.round(f.minScore * 1000) / 10) : '',
    zones: f.zones.join(', '),
  };
}

interface Props {
  filters: EventFilters;
  cameras: CameraOption[];
  /** Zone names known from the cameras' settings, offered while typing. */
  zoneNames?: string[];
  onSearch: (f: EventFilters) => void;
}

/**
 * The search form. It shows the filters of the page URL (times in the viewer's zone, so only
 * once mounted in the browser) and hands a changed set back to be put into the URL.
 */
export function EventFilterForm({ filters, cameras, zoneNames = [], onSearch }: Props) {
  const [draft, setDraft] = useState<Draft | null>(null);
  // The "last 24 h" start as first shown: left unchanged, the search stays relative to now.
  const [defaultFrom, setDefaultFrom] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const start = toLocalInput(new Date(Date.now() - DEFAULT_WINDOW_MS).toISOString());
    setDefaultFrom(start);
    setDraft(draftOf(filters, start));
  }, [filters]);

  const d = draft ?? {
    camera: filters.camera ?? '',
    type: filters.type ?? 'any',
    from: '',
    to: '',
    minScore: '',
    zones: filters.zones.join(', '),
  };
  const set = (patch: Partial<Draft>) => setDraft({ ...d, ...patch });

  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    const from = !filters.from && d.from === defaultFrom ? null : fromLocalInput(d.from);
    const to = fromLocalInput(d.to);
    if (from && to && Date.parse(from) >= Date.parse(to)) {
      setProblem('"From" must be earlier than "to".');
      return;
    }
    const pct = d.minScore.trim() === '' ? null : Number(d.minScore);
    if (pct !== null && (!Number.isFinite(pct) || pct < 0 || pct > 100)) {
      setProblem('The minimum score is a percentage from 0 to 100.');
      return;
    }
    const zones = parseZones(d.zones);
    if (zones === null) {
      setProblem(
        'Zones are names separated by commas: letters, digits, spaces, "_", "." or "-", starting with a letter or digit.',
      );
      return;
    }
    setProblem(null);
    onSearch({
      camera: d.camera || null,
      type: d.type === 'any' ? null : d.type,
      from,
      to,
      minScore: pct === null || pct === 0 ? null : pct / 100,
      zones,
      limit: filters.limit,
    });
  };

  const reset = () => {
    const zones = parseZones(d.zones);
    if (zones === null) {
      setProblem(
        'Zones are names separated by commas: letters, digits, spaces, "_", "." or "-", starting with a letter or digit.',
      );
      return;
    }
    setProblem(null);
    onSearch({ ...NO_FILTERS, limit: filters.limit });
  };

  return (
    <form className="events-filters" onSubmit={submit} aria-label="Event search" data-testid="event-filters">
      <label className="events-field">
        <span>Camera</span>
        <select
          value={d.camera}
          onChange={(e) => set({ camera: e.target.value })}
          data-testid="filter-camera"
        >
          <option value="">All cameras</option>
          {cameras.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name === c.id ? c.id : `${c.name} (${c.id})`}
            </option>
          ))}
          {filters.camera && !cameras.some((c) => c.id === filters.camera) ? (
            <option value={filters.camera}>{filters.camera}</option>
          ) : null}
        </select>
      </label>
      <label className="events-field">
        <span>Type</span>
        <select
          value={d.type}
          onChange={(e) => set({ type: e.target.value as Draft['type'] })}
          data-testid="filter-type"
        >
          <option value="any">Any</option>
          <option value="motion">Motion</option>
          <option value="face">Face</option>
        </select>
      </label>
      <label className="events-field">
        <span>From</span>
        <input
          type="datetime-local"
          step={1}
          value={d.from}
          onChange={(e) => set({ from: e.target.value })}
          data-testid="filter-from"
        />
      </label>
      <label className="events-field">
        <span>To</span>
        <input
          type="datetime-local"
          step={1}
          value={d.to}
          onChange={(e) => set({ to: e.target.value })}
          aria-describedby="events-to-hint"
          data-testid="filter-to"
        />
      </label>
      <label className="events-field events-field-score">
        <span>Min score (%)</span>
        <input
          type="number"
          min={0}
          max={100}
          step={1}
          inputMode="numeric"
          value={d.minScore}
          placeholder="0"
          onChange={(e) => set({ minScore: e.target.value })}
          data-testid="filter-min-score"
        />
      </label>
      <label className="events-field events-field-zones">
        <span>Zones</span>
        <input
          type="text"
          value={d.zones}
          placeholder="any"
          list={zoneNames.length > 0 ? 'events-zone-names' : undefined}
          onChange={(e) => set({ zones: e.target.value })}
          aria-describedby="events-zones-hint"
          data-testid="filter-zones"
        />
        {zoneNames.length > 0 ? (
          <datalist id="events-zone-names">
            {zoneNames.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        ) : null}
      </label>
      <div className="events-actions">
        <button type="submit" className="button-primary">
          Search
        </button>
        <button type="button" className="button-quiet" onClick={reset}>
          Reset
        </button>
      </div>
      <p id="events-to-hint" className="sub events-hint">
        Times in your zone. An empty “to” searches up to now, and new events appear as they happen.
      </p>
      <p id="events-zones-hint" className="sub events-hint">
        Zones: motion zone names separated by commas; an event that touched any of them matches.
      </p>
      {problem ? (
        <p className="notice events-problem" role="alert" data-testid="filter-problem">
          {problem}
        </p>
      ) : null}
    </form>
  );
}
