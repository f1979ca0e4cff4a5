'use client';

import type { Role } from '@cctv/protocol';
import { ROLES } from './user-form';

/** A role, chosen from the contract's roles. */
export function RoleSelect({ value, onChange }: { value: Role; onChange(role: Role): void }) {
  return (
    <label>
      Role
      <select name="role" value={value} onChange={(e) => onChange(e.target.value as Role)}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
}
