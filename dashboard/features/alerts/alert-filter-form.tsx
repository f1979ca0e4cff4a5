'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useEffect, useState } from 'react';
import { KIND_LABELS } from './alert-book';
import { ALERT_KINDS, ALERT_SEVERITIES, type AlertFilters, alertSearch } from './alert-filters';

type Draft = Record<keyof AlertFilters, string>;

const draftOf = (f: AlertFilters): Draft => ({
  state: f.state ?? '',
  acknowledged: f.acknowledged === null ? '' : String(f.acknowledged),
  kind: f.kind ?? '',
  severity: f.severity ?? '',
  node: f.node ?? '',
  camera: f.camera ?? '',
});

/** The filters; applying them is a new address, so a filtered list can be linked and reloaded. */
export function AlertFilterForm({ filters }: { filters: AlertFilters }) {
  const router = useRouter();
  const [draft, setDraft] = useState<Draft>(() => draftOf(filters));
  useEffect(() => setDraft(draftOf(filters)), [filters]);

  const field = (key: keyof Draft) => ({
    name: key,
    value: draft[key],
    onChange: (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value })),
  });

  function apply(e: FormEvent) {
    e.preventDefault();
    const next: AlertFilters = {
      state: (draft.state || null) as AlertFilters['state'],
      acknowledged: draft.acknowledged === '' ? null : draft.acknowledged === 'true',
      kind: (draft.kind || null) as AlertFilters['kind'],
      severity: (draft.severity || null) as AlertFilters['severity'],
      node: draft.node.trim() || null,
      camera: draft.camera.trim() || null,
    };
    router.push(`/alerts${alertSearch(next)}`);
  }

  return (
    <form className="filter-form" onSubmit={apply} data-testid="alert-filters">
      <label>
        State
        <select {...field('state')}>
          <option value="">any</option>
          <option value="open">open</option>
          <option value="resolved">resolved</option>
        </select>
      </label>
      <label>
        Acknowledged
        <select {...field('acknowledged')}>
          <option value="">any</option>
          <option value="false">not yet</option>
          <option value="true">acknowledged</option>
        </select>
      </label>
      <label>
        Kind
        <select {...field('kind')}>
          <option value="">any</option>
          {ALERT_KINDS.map((k) => (
            <option key={k} value={k}>
              {KIND_LABELS[k]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Severity
        <select {...field('severity')}>
          <option value="">any</option>
          {ALERT_SEVERITIES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Node
        <input {...field('node')} autoComplete="off" />
      </label>
      <label>
        Camera
        <input {...field('camera')} autoComplete="off" />
      </label>
      <div className="form-actions">
        <button type="submit" className="button-primary">
          Apply
        </button>
        <button type="button" className="button-quiet" onClick={() => router.push('/alerts')}>
          Clear
        </button>
      </div>
    </form>
  );
}
