'use client';

import { masterFetch } from '@/lib/master-fetch';
import { useMasterAction } from '@/lib/use-master-action';

/** An admin removes a user's second factor (audited by the master; the user's sessions end). */
export function ResetSecondFactor({ id, username }: { id: string; username: string }) {
  const { busy, error, run } = useMasterAction();

  async function reset() {
    if (!window.confirm(`Remove the second factor of ${username}? They sign in with the password alone.`))
      return;
    await run(() => masterFetch('userTotpReset', { params: { id } }));
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
