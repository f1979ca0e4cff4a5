'use client';

import type { Role, UserUpdateRequest, UserView } from '@cctv/protocol';
import { useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { ResetSecondFactor } from '@/components/reset-second-factor';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { CameraPicker, type PickableCamera } from './camera-picker';
import { RoleSelect } from './role-select';
import {
  accessChanged,
  accessOf,
  accessSummary,
  type CameraChoice,
  choiceOf,
  USER_COLUMNS,
} from './user-form';

interface Props {
  user: UserView;
  cameras: readonly PickableCamera[];
  /** The signed-in admin: ending their own sessions signs them out. */
  self: boolean;
}

const minute = (iso: string | null) =>
  iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) : '—';

/** One user: what they may do, and the admin's changes to it. */
export function UserRow({ user, cameras, self }: Props) {
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const { busy, error, run } = useMasterAction();
  const [editing, setEditing] = useState(false);
  const [role, setRole] = useState<Role>(user.role);
  const [choice, setChoice] = useState<CameraChoice>(choiceOf(user.cameras));
  const [password, setPassword] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const editId = `user-edit-${user.id}`;

  async function update(body: UserUpdateRequest, what: string) {
    setDone(null);
    const outcome = await run(() => masterFetch('userUpdate', { params: { id: user.id }, body }));
    if (outcome.ok) setDone(what);
    return outcome.ok;
  }

  async function save() {
    const body = {
      ...(role !== user.role ? { role } : {}),
      ...(accessChanged(user, choice) ? { cameras: accessOf(choice) } : {}),
    };
    if (Object.keys(body).length === 0) return setEditing(false);
    if (await update(body, 'saved')) setEditing(false);
  }

  async function setNewPassword() {
    if (await update({ password }, 'password changed')) setPassword('');
  }

  async function endSessions() {
    const whose = self ? 'your own sessions (this one too)' : `every session of ${user.username}`;
    if (!window.confirm(`End ${whose}?`)) return;
    setDone(null);
    const outcome = await run(() => masterFetch('userSessionsEnd', { params: { id: user.id } }), !self);
    if (outcome.ok && self) window.location.assign('/login');
    else if (outcome.ok) setDone('sessions ended');
  }

  return (
    <>
      <tr data-testid={`user-${user.username}`} className={user.disabled ? 'dim' : ''}>
        <td data-label="User">
          <b>{user.username}</b>
          {user.disabled ? <span className="tag"> disabled</span> : null}
        </td>
        <td data-label="Role" data-testid="user-role">
          {user.role}
        </td>
        <td data-label="Cameras" data-testid="user-cameras">
          {accessSummary(user.cameras, names)}
        </td>
        <td data-label="Second factor" data-testid="user-totp">
          {user.totpEnabled ? 'on' : 'off'}
        </td>
        <td data-label="Last sign-in" className="mono">
          {minute(user.lastLoginAt)}
        </td>
        <td>
          <div className="row-actions">
            <button
              type="button"
              className="button-quiet"
              aria-expanded={editing}
              aria-controls={editing ? editId : undefined}
              onClick={() => setEditing((e) => !e)}
            >
              {editing ? 'Close' : 'Edit'}
            </button>
            <button
              type="button"
              className="button-quiet"
              disabled={busy}
              onClick={() => update({ disabled: !user.disabled }, user.disabled ? 'enabled' : 'disabled')}
            >
              {user.disabled ? 'Enable' : 'Disable'}
            </button>
            <button type="button" className="button-quiet" disabled={busy} onClick={endSessions}>
              End sessions
            </button>
            {user.totpEnabled ? <ResetSecondFactor id={user.id} username={user.username} /> : null}
            <ActionStatus error={error} done={done} />
          </div>
        </td>
      </tr>
      {editing ? (
        <tr id={editId} className="user-edit" data-testid="user-edit">
          <td colSpan={USER_COLUMNS}>
            <div className="settings-form">
              <RoleSelect value={role} onChange={setRole} />
              <CameraPicker
                cameras={cameras}
                value={choice}
                onChange={setChoice}
                idPrefix={`${editId}-camera`}
              />
              <div className="form-actions">
                <button type="button" className="button-primary" disabled={busy} onClick={save}>
                  Save role and cameras
                </button>
              </div>
              <div className="form-row">
                <label>
                  New password
                  <input
                    type="password"
                    autoComplete="new-password"
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                  />
                </label>
              </div>
              <div className="form-actions">
                <button
                  type="button"
                  className="button-quiet"
                  disabled={busy || password.length === 0}
                  onClick={setNewPassword}
                >
                  Reset password
                </button>
                <span className="sub">Any change ends the user's sessions.</span>
              </div>
            </div>
          </td>
        </tr>
      ) : null}
    </>
  );
}
