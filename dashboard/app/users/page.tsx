import type { Metadata } from 'next';
import { ResetSecondFactor } from '@/components/reset-second-factor';
import { askMaster } from '@/lib/master-api';
import '../account/account.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Users · CCTV control room' };

/** Admins: the users, their second factor, and resetting it (a lost phone). */
export default async function UsersPage() {
  const users = await askMaster('users');
  return (
    <section className="panel" data-testid="users-page">
      <h1>Users</h1>
      {users.ok ? (
        <div className="table-wrap">
          <table className="users-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Second factor</th>
                <th>Last sign-in</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {users.value.map((u) => (
                <tr key={u.id} data-testid={`user-${u.username}`}>
                  <td>
                    {u.username}
                    {u.disabled ? ' (disabled)' : ''}
                  </td>
                  <td>{u.role}</td>
                  <td data-testid="user-totp">{u.totpEnabled ? 'on' : 'off'}</td>
                  <td>
                    {u.lastLoginAt
                      ? new Date(u.lastLoginAt).toISOString().replace('T', ' ').slice(0, 16)
                      : '—'}
                  </td>
                  <td>{u.totpEnabled ? <ResetSecondFactor id={u.id} username={u.username} /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="notice">
          {'unauthenticated' in users
            ? 'Sign in again.'
            : users.status === 403
              ? 'Admins only.'
              : users.error}
        </p>
      )}
    </section>
  );
}
