'use client';

import type { SessionUser } from '@cctv/protocol';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { ACCOUNT_PATH, LOGIN_PATH } from '@/lib/session';

/** Who is signed in, and the way out. Hidden on the sign-in page, whatever cookie is left. */
export function SessionBar({ user }: { user: SessionUser | null }) {
  const pathname = usePathname();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!user || pathname === LOGIN_PATH) return null;

  async function signOut() {
    setBusy(true);
    setError(null);
    try {
      const res = await masterFetch('logout');
      // 401: the session had ended already, which is what signing out wants.
      if (res.ok || res.status === 401) {
        window.location.assign(LOGIN_PATH);
        return;
      }
      setError(`sign-out failed (HTTP ${res.status})`);
    } catch {
      setError('sign-out failed: the dashboard server is unreachable');
    }
    setBusy(false);
  }

  return (
    <div className="session" data-testid="session">
      <span>
        <span className="session-user" data-testid="session-user">
          {user.username}
        </span>{' '}
        <span className={`role role-${user.role}`} data-testid="session-role">
          {user.role}
        </span>
      </span>
      <Link href={ACCOUNT_PATH} data-testid="account-link">
        Account
      </Link>
      {error ? (
        <span className="session-error" role="alert">
          {error}
        </span>
      ) : null}
      <button type="button" className="button-quiet" onClick={signOut} disabled={busy}>
        Sign out
      </button>
    </div>
  );
}
