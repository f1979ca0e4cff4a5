import type { Metadata } from 'next';
import { SettingsPage, SettingsRefusal } from '@/components/settings-tabs';
import { UserCreateForm } from '@/features/users/user-create-form';
import { sortUsers, USER_COLUMNS } from '@/features/users/user-form';
import { UserRow } from '@/features/users/user-row';
import { askMaster, fetchSessionUser } from '@/lib/master-api';
import '../settings.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Users · CCTV control room' };

/** Admins: the users, their role and cameras, their second factor and sessions. */
export default async function UsersPage() {
  const [users, cameras, me] = await Promise.all([
    askMaster('users'),
    askMaster('cameras'),
    fetchSessionUser(),
  ]);
  const pickable = cameras.ok
    ? cameras.value
        .map((c) => ({ id: c.id, name: c.name, nodeId: c.nodeId }))
        .sort((a, b) => a.id.localeCompare(b.id))
    : [];
  return (
    <SettingsPage current="/settings/users" title="Users">
      {users.ok ? (
        <>
          <section className="panel" data-testid="users-page">
            <div className="table-wrap">
              <table className="settings-table cards users-table">
                <thead>
                  <tr>
                    <th>User</th>
                    <th>Role</th>
                    <th>Cameras</th>
                    <th>Second factor</th>
                    <th>Last sign-in</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {users.value.length === 0 ? (
                    <tr>
                      <td colSpan={USER_COLUMNS} className="empty">
                        No users.
                      </td>
                    </tr>
                  ) : (
                    sortUsers(users.value).map((u) => (
                      <UserRow key={u.id} user={u} cameras={pickable} self={u.id === me?.id} />
                    ))
                  )}
                </tbody>
              </table>
            </div>
          </section>
          <section className="panel">
            <UserCreateForm cameras={pickable} />
          </section>
        </>
      ) : (
        <SettingsRefusal answer={users} returnTo="/settings/users" />
      )}
    </SettingsPage>
  );
}
