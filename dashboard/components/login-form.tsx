'use client';

import { type FormEvent, useState } from 'react';
import { errorOf } from '@/lib/session';

/** A sentence for a refused sign-in, from the master's answer (through the dashboard's proxy). */
async function describeRefusal(res: Response): Promise<string> {
  const err = await errorOf(res);
  if (res.status === 401) return 'Wrong username or password.';
  if (res.status === 429) {
    const wait = Number(res.headers.get('retry-after'));
    return Number.isFinite(wait) && wait > 0
      ? `Too many attempts, try again in ${Math.ceil(wait)} s.`
      : 'Too many attempts, try again later.';
  }
  if (err?.code === 'MASTER_UNREACHABLE') return 'The master is unreachable; try again in a moment.';
  return `Sign-in failed (HTTP ${res.status}${err ? `: ${err.message}` : ''}).`;
}

/** Username and password, posted to the master's login; `next` is where to go once signed in. */
export function LoginForm({ next }: { next: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
        cache: 'no-store',
      });
      if (res.ok) {
        // A full load, so the layout renders again with the signed-in user.
        window.location.assign(next);
        return;
      }
      setError(await describeRefusal(res));
    } catch {
      setError('The dashboard server is unreachable; check the connection and try again.');
    }
    setBusy(false);
  }

  return (
    <form className="login-form" onSubmit={onSubmit}>
      <label htmlFor="login-username">Username</label>
      <input
        id="login-username"
        name="username"
        type="text"
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        required
        maxLength={64}
        // biome-ignore lint/a11y/noAutofocus: signing in is the only thing to do on this page
        autoFocus
        aria-invalid={error !== null}
        aria-describedby={error ? 'login-error' : undefined}
      />
      <label htmlFor="login-password">Password</label>
      <input
        id="login-password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        maxLength={256}
        aria-invalid={error !== null}
        aria-describedby={error ? 'login-error' : undefined}
      />
      {/* Present before any error, so screen readers announce the text when it appears. */}
      <div id="login-error" role="alert" className="login-error" data-testid="login-error">
        {error}
      </div>
      <button type="submit" className="button-primary" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
