'use client';

import { useRouter } from 'next/navigation';
import { type FormEvent, useEffect, useState } from 'react';
import { fromLocalInput, toLocalInput } from '../events/event-filters';
import { AUDIT_ACTIONS, type AuditFilters, auditSearch, badRange } from './audit-filters';

interface Props {
  filters: AuditFilters;
  /** Choices offered while typing (datalists): usernames, camera and node ids. */
  users: readonly string[];
  cameras: readonly string[];
  nodes: readonly string[];
}

type Draft = Record<keyof AuditFilters, string>;

const draftOf = (f: AuditFilters, local: boolean): Draft => ({
  user: f.user ?? '',
  action: f.action ?? '',
  camera: f.camera ?? '',
  node: f.node ?? '',
  // The browser's zone is known only in the browser: the times are filled in once mounted.
  from: local ? toLocalInput(f.from) : '',
  to: local ? toLocalInput(f.to) : '',
});

/** The filters; applying them is a new address, so a filtered log can be linked and reloaded. */
export function AuditFilterForm({ filters, users, cameras, nodes }: Props) {
  const router = useRouter();
  const [draft, setDraft] = useState<Draft>(() => draftOf(filters, false));
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setDraft(draftOf(filters, true)), [filters]);

  const field = (key: keyof Draft) => ({
    name: key,
    value: draft[key],
    onChange: (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value })),
  });

  function apply(e: FormEvent) {
    e.preventDefault();
    const next: AuditFilters = {
      user: draft.user.trim() || null,
      action: (draft.action || null) as AuditFilters['action'],
      camera: draft.camera.trim() || null,
      node: draft.node.trim() || null,
      from: fromLocalInput(draft.from),
      to: fromLocalInput(draft.to),
    };
    if (badRange(next)) {
      setProblem('"From" must be earlier than "to".');
      return;
    }
    setProblem(null);
    router.push(`/settings/audit${auditSearch(next)}`);
  }

  return (
    <form className="filter-form" onSubmit={apply} data-testid="audit-filters">
      <label>
        User
        <input {...field('user')} list="audit-users" autoComplete="off" />
      </label>
      <label>
        Action
        <select {...field('action')}>
          <option value="">any</option>
          {AUDIT_ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
      <label>
        Camera
        <input {...field('camera')} list="audit-cameras" autoComplete="off" />
      </label>
      <label>
        Node
        <input {...field('node')} list="audit-nodes" autoComplete="off" />
      </label>
      <label>
        From
        <input {...field('from')} type="datetime-local" step="1" />
      </label>
      <label>
        To
        <input {...field('to')} type="datetime-local" step="1" />
      </label>
      <div className="form-actions">
        <button type="submit" className="button-primary">
          Apply
        </button>
        <button type="button" className="button-quiet" onClick={() => router.push('/settings/audit')}>
          Clear
        </button>
        {problem ? (
          <span className="form-error" role="alert">
            {problem}
          </span>
        ) : null}
      </div>
      <datalist id="audit-users">
        {users.map((u) => (
          <option key={u} value={u} />
        ))}
      </datalist>
      <datalist id="audit-cameras">
        {cameras.map((c) => (
          <option key={c} value={c} />
        ))}
      </datalist>
      <datalist id="audit-nodes">
        {nodes.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
    </form>
  );
}
