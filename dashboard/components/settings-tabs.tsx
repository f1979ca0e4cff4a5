import Link from 'next/link';
import type { ReactNode } from 'react';
import { fetchSessionUser } from '@/lib/master-api';
import { settingsFor } from '@/lib/nav';
import { loginPath } from '@/lib/session';

/**
 * A settings page: the tabs of the settings the user's role may use, then the page's own
 * panels. Each panel is a `section.panel`; a page adds one by adding a section.
 */
export async function SettingsPage({
  current,
  title,
  children,
}: {
  current: string;
  title: string;
  children: ReactNode;
}) {
  const user = await fetchSessionUser();
  const tabs = settingsFor(user?.role ?? null);
  return (
    <div className="settings-page">
      <nav className="settings-tabs" aria-label="Settings">
        {tabs.map((t) => (
          <Link key={t.href} href={t.href} aria-current={t.href === current ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      <h1 className="settings-title">{title}</h1>
      {children}
    </div>
  );
}

/** What a settings page shows when the master refused its read. */
export function SettingsRefusal({
  answer,
  returnTo,
}: {
  answer: { error: string; status?: number } | { unauthenticated: true };
  returnTo: string;
}) {
  return (
    <p className="notice">
      {'unauthenticated' in answer ? (
        <>
          Your session has ended: <Link href={loginPath(returnTo)}>sign in again</Link>.
        </>
      ) : answer.status === 403 ? (
        'Admins only.'
      ) : (
        answer.error
      )}
    </p>
  );
}
