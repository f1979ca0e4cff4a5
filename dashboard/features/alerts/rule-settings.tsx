'use client';

import type { AlertChannelView, AlertRuleView } from '@cctv/protocol';
import { type FormEvent, useEffect, useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { KIND_LABELS } from './alert-book';
import { ALERT_KINDS, ALERT_SEVERITIES } from './alert-filters';
import {
  EVENT_TYPES,
  NUMBER_FIELDS,
  newWindow,
  type RuleDraft,
  ruleDraft,
  ruleInput,
  ruleSummary,
  SECURITY_KINDS,
  WEEKDAYS,
  type WindowDraft,
} from './rule-form';

export interface PickableCamera {
  id: string;
  name: string;
}

const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const toggled = <T,>(list: readonly T[], item: T, on: boolean): T[] =>
  on ? [...list.filter((x) => x !== item), item] : list.filter((x) => x !== item);

/** The alert rules: each with its switch, edit and delete (built-in ones can only be disabled). */
export function RuleList({
  rules,
  channels,
  cameras,
}: {
  rules: readonly AlertRuleView[];
  channels: readonly AlertChannelView[];
  cameras: readonly PickableCamera[];
}) {
  const names = new Map(channels.map((c) => [c.id, c.name]));
  return (
    <div className="table-wrap">
      <table className="settings-table cards rules-table" data-testid="rules-table">
        <thead>
          <tr>
            <th>Rule</th>
            <th>Severity</th>
            <th>When</th>
            <th>Channels</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rules.length === 0 ? (
            <tr>
              <td colSpan={5} className="empty">
                No rules.
              </td>
            </tr>
          ) : (
            rules.map((r) => (
              <RuleRow key={r.id} rule={r} names={names} channels={channels} cameras={cameras} />
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

function RuleRow({
  rule,
  names,
  channels,
  cameras,
}: {
  rule: AlertRuleView;
  names: ReadonlyMap<string, string>;
  channels: readonly AlertChannelView[];
  cameras: readonly PickableCamera[];
}) {
  const { busy, error, run } = useMasterAction();
  const [editing, setEditing] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  // The switch moves at once; the master's refusal puts it back.
  const [enabled, setShown] = useState(rule.enabled);
  useEffect(() => setShown(rule.enabled), [rule.enabled]);

  async function setEnabled(enabled: boolean) {
    setDone(null);
    setShown(enabled);
    const body = {
      name: rule.name,
      enabled,
      severity: rule.severity,
      params: rule.params,
      channels: rule.channels,
    };
    const outcome = await run(() => masterFetch('alertRuleUpdate', { params: { id: rule.id }, body }));
    if (outcome.ok) setDone(enabled ? 'enabled' : 'disabled');
    else setShown(rule.enabled);
  }

  async function remove() {
    if (!window.confirm(`Remove the rule "${rule.name}"?`)) return;
    setDone(null);
    await run(() => masterFetch('alertRuleDelete', { params: { id: rule.id } }));
  }

  const editId = `rule-edit-${rule.id}`;
  return (
    <>
      <tr
        data-testid="rule-row"
        data-rule-id={rule.id}
        data-enabled={rule.enabled}
        className={rule.enabled ? '' : 'dim'}
      >
        <td data-label="Rule">
          <b>{rule.name}</b> <span className="tag">{KIND_LABELS[rule.kind]}</span>
          {rule.builtIn ? <span className="tag">built-in</span> : null}
        </td>
        <td data-label="Severity">
          <span className={`badge badge-severity-${rule.severity}`}>{rule.severity}</span>
        </td>
        <td data-label="When" className="sub">
          {ruleSummary(rule.params)}
        </td>
        <td data-label="Channels">
          {rule.channels.length ? rule.channels.map((c) => names.get(c) ?? c).join(', ') : '—'}
        </td>
        <td>
          <div className="row-actions">
            <label className="check">
              <input
                type="checkbox"
                checked={enabled}
                disabled={busy}
                onChange={(e) => setEnabled(e.target.checked)}
                aria-label={`${rule.name}: enabled`}
                data-testid="rule-enabled"
              />
              Enabled
            </label>
            <button
              type="button"
              className="button-quiet"
              aria-expanded={editing}
              aria-controls={editing ? editId : undefined}
              onClick={() => setEditing((e) => !e)}
            >
              {editing ? 'Close' : 'Edit'}
            </button>
            {rule.builtIn ? null : (
              <button type="button" className="button-quiet" disabled={busy} onClick={remove}>
                Delete
              </button>
            )}
            <ActionStatus error={error} done={done} testId="rule-status" />
          </div>
        </td>
      </tr>
      {editing ? (
        <tr id={editId} data-testid="rule-edit">
          <td colSpan={5}>
            <RuleForm rule={rule} channels={channels} cameras={cameras} onSaved={() => setEditing(false)} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** A new rule (`rule` null) or a change to one: the fields of its kind. */
export function RuleForm({
  rule,
  channels,
  cameras,
  onSaved,
}: {
  rule: AlertRuleView | null;
  channels: readonly AlertChannelView[];
  cameras: readonly PickableCamera[];
  onSaved?: () => void;
}) {
  const { busy, error, setError, run } = useMasterAction();
  const [draft, setDraft] = useState<RuleDraft>(() => ruleDraft(rule));
  const [done, setDone] = useState<string | null>(null);
  const idp = rule ? `rule-${rule.id}` : 'rule-new';
  const set = (patch: Partial<RuleDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const setWindow = (i: number, patch: Partial<WindowDraft>) =>
    setDraft((d) =>
      d.schedule
        ? {
            ...d,
            schedule: {
              ...d.schedule,
              windows: d.schedule.windows.map((w, j) => (j === i ? { ...w, ...patch } : w)),
            },
          }
        : d,
    );

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    const made = ruleInput(draft);
    if ('problem' in made) {
      setError(made.problem);
      return;
    }
    const outcome = await run(() =>
      rule
        ? masterFetch('alertRuleUpdate', { params: { id: rule.id }, body: made.input })
        : masterFetch('alertRuleCreate', { body: made.input }),
    );
    if (!outcome.ok) return;
    setDone(rule ? 'saved' : `${made.input.name} added`);
    if (!rule) setDraft(ruleDraft(null));
    onSaved?.();
  }

  const showCameras = draft.kind === 'detection' || draft.kind === 'camera_down';
  return (
    <form
      className="settings-form rule-form"
      onSubmit={submit}
      data-testid={rule ? 'rule-form' : 'rule-create'}
    >
      {rule ? null : <h2>New rule</h2>}
      <div className="form-row">
        <label>
          Name
          <input
            value={draft.name}
            onChange={(e) => set({ name: e.target.value })}
            required
            maxLength={100}
          />
        </label>
        <label>
          Kind
          <select
            value={draft.kind}
            disabled={rule !== null}
            onChange={(e) => set({ kind: e.target.value as RuleDraft['kind'] })}
          >
            {ALERT_KINDS.map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select
            value={draft.severity}
            onChange={(e) => set({ severity: e.target.value as RuleDraft['severity'] })}
          >
            {ALERT_SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={draft.enabled}
            onChange={(e) => set({ enabled: e.target.checked })}
          />
          Enabled
        </label>
      </div>

      {draft.kind === 'detection' ? (
        <fieldset>
          <legend>Event types</legend>
          <div className="checks">
            {EVENT_TYPES.map((t) => (
              <label key={t} className="check">
                <input
                  type="checkbox"
                  checked={draft.eventTypes.includes(t)}
                  onChange={(e) => set({ eventTypes: toggled(draft.eventTypes, t, e.target.checked) })}
                />
                {t}
              </label>
            ))}
          </div>
        </fieldset>
      ) : null}

      {showCameras ? (
        <fieldset data-testid="rule-cameras">
          <legend>Cameras (none ticked: every camera)</legend>
          {cameras.length === 0 ? (
            <p className="sub">No cameras are registered yet.</p>
          ) : (
            <div className="checks">
              {cameras.map((c) => (
                <label key={c.id} className="check">
                  <input
                    type="checkbox"
                    checked={draft.cameras.includes(c.id)}
                    onChange={(e) => set({ cameras: toggled(draft.cameras, c.id, e.target.checked) })}
                  />
                  {c.name}
                  {c.name !== c.id ? <span className="sub"> {c.id}</span> : null}
                </label>
              ))}
            </div>
          )}
        </fieldset>
      ) : null}

      {draft.kind === 'detection' ? (
        <label>
          Zones (comma-separated; empty: anywhere)
          <input value={draft.zones} onChange={(e) => set({ zones: e.target.value })} />
        </label>
      ) : null}

      {draft.kind === 'node_offline' ? (
        <div className="form-row">
          <label>
            Nodes (comma-separated; empty: every node)
            <input value={draft.nodes} onChange={(e) => set({ nodes: e.target.value })} />
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.includeStale}
              onChange={(e) => set({ includeStale: e.target.checked })}
            />
            Also when heartbeats stop (stale)
          </label>
        </div>
      ) : null}

      {draft.kind === 'security' ? (
        <fieldset>
          <legend>Security alerts (none ticked: all)</legend>
          <div className="checks">
            {SECURITY_KINDS.map((k) => (
              <label key={k} className="check">
                <input
                  type="checkbox"
                  checked={draft.securityKinds.includes(k)}
                  onChange={(e) => set({ securityKinds: toggled(draft.securityKinds, k, e.target.checked) })}
                />
                {k.replaceAll('_', ' ')}
              </label>
            ))}
          </div>
        </fieldset>
      ) : null}

      {NUMBER_FIELDS[draft.kind].length > 0 ? (
        <div className="form-row">
          {NUMBER_FIELDS[draft.kind].map((f) => (
            <label key={f.key}>
              {f.label}
              <input
                type="number"
                inputMode="decimal"
                min={f.min}
                max={f.max}
                step={f.integer ? 1 : 'any'}
                value={draft.numbers[f.key] ?? ''}
                onChange={(e) => set({ numbers: { ...draft.numbers, [f.key]: e.target.value } })}
              />
            </label>
          ))}
        </div>
      ) : null}

      {draft.kind === 'detection' ? (
        <fieldset data-testid="rule-schedule">
          <legend>Schedule</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={draft.schedule !== null}
              onChange={(e) =>
                set({
                  schedule: e.target.checked ? { timeZone: browserTimeZone(), windows: [newWindow()] } : null,
                })
              }
            />
            Only at certain times (else always)
          </label>
          {draft.schedule ? (
            <>
              <label>
                Time zone
                <input
                  value={draft.schedule.timeZone}
                  onChange={(e) =>
                    set({
                      schedule: {
                        ...(draft.schedule as NonNullable<RuleDraft['schedule']>),
                        timeZone: e.target.value,
                      },
                    })
                  }
                />
              </label>
              {draft.schedule.windows.map((w, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: windows have no identity but their place
                <div key={i} className="schedule-window" data-testid="schedule-window">
                  {WEEKDAYS.map((day, n) => (
                    <label key={day} className="check">
                      <input
                        type="checkbox"
                        checked={w.days.includes(n)}
                        onChange={(e) => setWindow(i, { days: toggled(w.days, n, e.target.checked) })}
                      />
                      {day}
                    </label>
                  ))}
                  <label>
                    From
                    <input
                      type="time"
                      id={`${idp}-from-${i}`}
                      value={w.from}
                      onChange={(e) => setWindow(i, { from: e.target.value })}
                    />
                  </label>
                  <label>
                    To
                    <input type="time" value={w.to} onChange={(e) => setWindow(i, { to: e.target.value })} />
                  </label>
                  <button
                    type="button"
                    className="button-quiet"
                    onClick={() =>
                      setDraft((d) =>
                        d.schedule
                          ? {
                              ...d,
                              schedule: {
                                ...d.schedule,
                                windows: d.schedule.windows.filter((_, j) => j !== i),
                              },
                            }
                          : d,
                      )
                    }
                  >
                    Remove
                  </button>
                </div>
              ))}
              <div>
                <button
                  type="button"
                  className="button-quiet"
                  onClick={() =>
                    setDraft((d) =>
                      d.schedule
                        ? { ...d, schedule: { ...d.schedule, windows: [...d.schedule.windows, newWindow()] } }
                        : d,
                    )
                  }
                >
                  Add a window
                </button>
                <span className="sub"> A window whose end is before its start runs past midnight.</span>
              </div>
            </>
          ) : null}
        </fieldset>
      ) : null}

      <fieldset>
        <legend>Send to</legend>
        {channels.length === 0 ? (
          <p className="sub">No channels yet: alerts show in the dashboard only.</p>
        ) : (
          <div className="checks">
            {channels.map((c) => (
              <label key={c.id} className="check">
                <input
                  type="checkbox"
                  checked={draft.channels.includes(c.id)}
                  onChange={(e) => set({ channels: toggled(draft.channels, c.id, e.target.checked) })}
                />
                {c.name} <span className="sub">{c.kind}</span>
              </label>
            ))}
          </div>
        )}
      </fieldset>

      <div className="form-actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {rule ? 'Save rule' : 'Add rule'}
        </button>
        <ActionStatus error={error} done={done} testId={rule ? 'rule-form-status' : 'rule-create-status'} />
      </div>
    </form>
  );
}
