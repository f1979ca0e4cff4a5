'use client';

import type { Role } from '@cctv/protocol';
import { type FormEvent, useState } from 'react';
import { ActionStatus } from '@/components/action-status';
import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';
import { CameraPicker, type PickableCamera } from './camera-picker';
import { RoleSelect } from './role-select';
import { type CameraChoice, createRequest } from './user-form';

/** A new user: name, first password, role, and all cameras or a chosen list. */
export function UserCreateForm({ cameras }: { cameras: readonly PickableCamera[] }) {
  const { busy, error, setError, run } = useMasterAction();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [choice, setChoice] = useState<CameraChoice>({ all: false, ids: [] });
  const [created, setCreated] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setCreated(null);
    const body = createRequest({ username, password, role, cameras: choice });
    if ('problem' in body) {
      setError(body.problem);
      return;
    }
    const outcome = await run(() => masterFetch('userCreate', { body }));
    if (!outcome.ok) return;
    setCreated(body.username.toLowerCase());
    setUsername('');
    setPassword('');
    setChoice({ all: false, ids: [] });
  }

  return (
    <form className="settings-form" onSubmit={submit} data-testid="user-create">
      <h2>New user</h2>
      <div className="form-row">
        <label>
          Username
          <input
            name="username"
            autoComplete="off"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <RoleSelect value={role} onChange={setRole} />
      </div>
      <CameraPicker cameras={cameras} value={choice} onChange={setChoice} idPrefix="new-user-camera" />
      <div className="form-actions">
        <button type="submit" className="button-primary" disabled={busy}>
          Create user
        </button>
        <ActionStatus
          error={error}
          done={created ? `${created} created` : null}
          testId="user-create-status"
        />
      </div>
    </form>
  );
}
