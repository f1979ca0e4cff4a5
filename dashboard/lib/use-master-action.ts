'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { errorOf } from '@/lib/session';

/** What an admin's change answered: ok (with the response), or the message to show. */
export type ActionOutcome = { ok: true; res: Response } | { ok: false; message: string };

/** The master's explanation of a refusal (`{error:{message}}`), else its status. */
export async function refusalMessage(res: Response): Promise<string> {
  const err = await errorOf(res);
  if (err?.code === 'MASTER_UNREACHABLE') return 'the master is unreachable';
  return err?.message ?? `HTTP ${res.status}`;
}

/**
 * One change asked of the master from a settings page: busy while it runs, the master's own
 * message when it refuses, and the page's server data read again when it is done.
 */
export function useMasterAction() {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function run(call: () => Promise<Response>, refresh = true): Promise<ActionOutcome> {
    setBusy(true);
    setError(null);
    let outcome: ActionOutcome;
    try {
      const res = await call();
      outcome = res.ok ? { ok: true, res } : { ok: false, message: await refusalMessage(res) };
    } catch {
      outcome = { ok: false, message: 'the dashboard server is unreachable' };
    }
    setBusy(false);
    if (!outcome.ok) setError(outcome.message);
    else if (refresh) router.refresh();
    return outcome;
  }

  return { busy, error, setError, run };
}
