import { redirect } from 'next/navigation';
import { fetchSessionUser } from '@/lib/master-api';
import { settingsFor } from '@/lib/nav';
import { loginPath } from '@/lib/session';

export const dynamic = 'force-dynamic';

/** The first settings page the signed-in user's role may use. */
export default async function SettingsIndex() {
  const user = await fetchSessionUser();
  if (!user) redirect(loginPath('/settings'));
  const first = settingsFor(user.role)[0];
  if (first) redirect(first.href);
  return <p className="notice">Viewers have no settings to change.</p>;
}
