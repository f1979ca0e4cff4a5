'use client';

import type { AlertChannelTestAnswer, AlertChannelView } from '@cctv/protocol';
import { type FormEvent, useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import {
  CHANNEL_KINDS,
  type ChannelDraft,
  channelDraft,
  channelInput,
  channelSummary,
  hasSecret,
  headerNames,
  SMTP_SECURITIES,
} from './channel-form';

/** The channels alerts are sent to: each with edit, delete and a test send. */
export function ChannelList({ channels }: { channels: readonly AlertChannelView[] }) {
  return (
    <div className="table-wrap">
      <table className="settings-table cards channels-table" data-testid="channels-table">
        <thead>
          <tr>
            <th>Channel</th>
            <th>Kind</th>
            <th>Where</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {channels.length === 0 ? (
            <tr>
              <td colSpan={4} className="empty">
                No channels: alerts show in the dashboard only.
              </td>
            </tr>
          ) : (
            channels.map((c) => <ChannelRow key={c.id} channel={c} />)
          )}
        </tbody>
      </table>
    </div>
  );
}

function ChannelRow({ channel }: { channel: AlertChannelView }) {
  const { busy, error, setError, run } = useMasterAction();
  const [editing, setEditing] = useState(false);
  const [done, setDone] = useState<string | null>(null);

  async function test() {
    setDone(null);
    const outcome = await run(() => masterFetch('alertChannelTest', { params: { id: channel.id } }), false);
    if (!outcome.ok) return;
    const answer = (await outcome.res.json()) as AlertChannelTestAnswer;
    if (answer.ok) setDone('test sent');
    else setError(`test failed: ${answer.error ?? 'unknown error'}`);
  }

  async function remove() {
    if (
      !window.confirm(`Remove the channel "${channel.name}"? Its unsent notifications become dead letters.`)
    )
      return;
    setDone(null);
    await run(() => masterFetch('alertChannelDelete', { params: { id: channel.id } }));
  }

  const editId = `channel-edit-${channel.id}`;
  return (
    <>
      <tr
        data-testid="channel-row"
        data-channel-id={channel.id}
        data-kind={channel.kind}
        className={channel.enabled ? '' : 'dim'}
      >
        <td data-label="Channel">
          <b>{channel.name}</b>
          {channel.enabled ? null : <span className="tag"> disabled</span>}
        </td>
        <td data-label="Kind">{channel.kind}</td>
        <td data-label="Where" className="sub">
          {channelSummary(channel)}
          {hasSecret(channel) ? ' · secret saved' : ''}
        </td>
        <td>
          <div className="row-actions">
            <button
              type="button"
              className="button-quiet"
              disabled={busy}
              onClick={test}
              data-testid="channel-test"
            >
              Send test
            </button>
            <button
              type="button"
              className="button-quiet"
              aria-expanded={editing}
              aria-controls={editing ? editId : undefined}
              onClick={() => setEditing((e) => !e)}
            >
              {editing ? 'Close' : 'Edit'}
            </button>
            <button type="button" className="button-quiet" disabled={busy} onClick={remove}>
              Delete
            </button>
            <ActionStatus error={error} done={done} testId="channel-status" />
          </div>
        </td>
      </tr>
      {editing ? (
        <tr id={editId} data-testid="channel-edit">
          <td colSpan={4}>
            <ChannelForm channel={channel} onSaved={() => setEditing(false)} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** A new channel (`channel` null) or a change to one; an empty secret keeps the saved one. */
export function ChannelForm({
  channel,
  onSaved,
}: {
  channel: AlertChannelView | null;
  onSaved?: () => void;
}) {
  const { busy, error, setError, run } = useMasterAction();
  const [draft, setDraft] = useState<ChannelDraft>(() => channelDraft(channel));
  const [done, setDone] = useState<string | null>(null);
  const set = (patch: Partial<ChannelDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const text = (key: keyof ChannelDraft) => ({
    value: draft[key] as string,
    onChange: (e: { target: { value: string } }) => set({ [key]: e.target.value }),
  });
  const saved = channel !== null && channel.kind === draft.kind && hasSecret(channel);
  const keepNote = saved ? <span className="sub"> (saved: leave empty to keep)</span> : null;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    const made = channelInput(draft, channel);
    if ('problem' in made) {
      setError(made.problem);
      return;
    }
    const outcome = await run(() =>
      channel
        ? masterFetch('alertChannelUpdate', { params: { id: channel.id }, body: made.input })
        : masterFetch('alertChannelCreate', { body: made.input }),
    );
    if (!outcome.ok) return;
    setDone(channel ? 'saved' : `${made.input.name} added`);
    if (!channel) setDraft(channelDraft(null, draft.kind));
    else set({ secret: '', headers: '' });
    onSaved?.();
  }

  return (
    <form
      className="settings-form channel-form"
      onSubmit={submit}
      data-testid={channel ? 'channel-form' : 'channel-create'}
    >
      {channel ? null : <h2>New channel</h2>}
      <div className="form-row">
        <label>
          Name
          <input {...text('name')} required maxLength={100} />
        </label>
        <label>
          Kind
          <select
            value={draft.kind}
            disabled={channel !== null}
            onChange={(e) => set({ kind: e.target.value as ChannelDraft['kind'] })}
          >
            {CHANNEL_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
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

      {draft.kind === 'webhook' ? (
        <>
          <div className="form-row">
            <label>
              URL
              <input {...text('url')} type="url" inputMode="url" autoComplete="off" required />
            </label>
            <label>
              <span>Signing secret{keepNote}</span>
              <input {...text('secret')} type="password" autoComplete="new-password" minLength={16} />
            </label>
          </div>
          <label>
            <span>
              Headers (Name: value per line)
              {headerNames(channel).length ? (
                <span className="sub"> (saved: {headerNames(channel).join(', ')}; leave empty to keep)</span>
              ) : null}
            </span>
            <textarea {...text('headers')} rows={2} autoComplete="off" />
          </label>
        </>
      ) : null}

      {draft.kind === 'email' ? (
        <>
          <div className="form-row">
            <label>
              SMTP host
              <input {...text('host')} autoComplete="off" required />
            </label>
            <label>
              Port
              <input {...text('port')} type="number" min={1} max={65535} required />
            </label>
            <label>
              Security
              <select
                value={draft.security}
                onChange={(e) => set({ security: e.target.value as ChannelDraft['security'] })}
              >
                {SMTP_SECURITIES.map((s) => (
                  <option key={s} value={s}>
                    {s === 'none' ? 'none (local relay only)' : s.toUpperCase()}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <div className="form-row">
            <label>
              Username
              <input {...text('username')} autoComplete="off" />
            </label>
            <label>
              <span>Password{keepNote}</span>
              <input {...text('secret')} type="password" autoComplete="new-password" />
            </label>
          </div>
          <div className="form-row">
            <label>
              From
              <input {...text('from')} type="email" autoComplete="off" required />
            </label>
            <label>
              To (comma-separated)
              <input {...text('to')} autoComplete="off" required />
            </label>
          </div>
        </>
      ) : null}

      {draft.kind === 'mqtt' ? (
        <>
          <div className="form-row">
            <label>
              Broker URL
              <input {...text('url')} placeholder="mqtt://broker:1883" autoComplete="off" required />
            </label>
            <label>
              Username
              <input {...text('username')} autoComplete="off" />
            </label>
            <label>
              <span>Password{keepNote}</span>
              <input {...text('secret')} type="password" autoComplete="new-password" />
            </label>
          </div>
          <div className="form-row">
            <label>
              Topic prefix
              <input {...text('topicPrefix')} placeholder="cctv" autoComplete="off" />
            </label>
            <label>
              Discovery prefix
              <input {...text('discoveryPrefix')} placeholder="homeassistant" autoComplete="off" />
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={draft.homeAssistant}
                onChange={(e) => set({ homeAssistant: e.target.checked })}
              />
              Home Assistant discovery
            </label>
          </div>
        </>
      ) : null}

      <div className="form-actions">
        <button type="submit" className="button-primary" disabled={busy}>
          {channel ? 'Save channel' : 'Add channel'}
        </button>
        <ActionStatus
          error={error}
          done={done}
          testId={channel ? 'channel-form-status' : 'channel-create-status'}
        />
      </div>
    </form>
  );
}
