'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';

/** An admin removes a user's second factor (audited by the master; the user's sessions end). */
export function ResetSecondFactor({ id, username }: { id: string; username: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function reset() {
    if (!window.confirm(`Remove the second factor of ${username}? They sign in with the password alone.`))
      return;
    setBusy(true);
    setError(null);
    try {
      const res = await masterFetch('userTotpReset', { params: { id } });
      if (res.status === 204) router.refresh();
      else setError((await errorOf(res))?.message ?? `HTTP ${res.status}`);
    } catch {
      setError('the dashboard server is unreachable');
    }
    setBusy(false);
  }

  return (
    <>
      <button type="button" className="button-quiet" onClick={reset} disabled={busy}>
        Reset second factor
      </button>
      {error ? <span role="alert"> {error}</span> : null}
    </>
  );
}
