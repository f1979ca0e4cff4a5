'use client';

import { type FormEvent, useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';

/** A sentence for a refused sign-in, from the master's answer (through the dashboard's proxy). */
async function describeRefusal(
  res: Response,
  err: { code: string; message: string } | null,
): Promise<string> {
  if (err?.code === 'BAD_TOTP_CODE') return 'Wrong or already used code: enter the next one the app shows.';
  if (err?.code === 'BAD_RECOVERY_CODE') return 'Wrong or already used recovery code.';
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

/**
 * Username and password, posted to the master's login; `next` is where to go once signed in.
 * When the master answers `TOTP_REQUIRED` the form asks for a code of the authenticator app
 * (or a recovery code) and signs in again with the same username and password.
 */
export function LoginForm({ next }: { next: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Kept after the first step, to be sent again with the code.
  const [credentials, setCredentials] = useState<{ username: string; password: string } | null>(null);
  const [recovery, setRecovery] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const signIn = credentials ?? {
      username: String(form.get('username') ?? ''),
      password: String(form.get('password') ?? ''),
    };
    const second = credentials
      ? recovery
        ? { recoveryCode: String(form.get('recoveryCode') ?? '').trim() }
        : { totp: String(form.get('totp') ?? '').replace(/\D/g, '') }
      : {};
    setBusy(true);
    setError(null);
    try {
      const res = await masterFetch('login', { body: { ...signIn, ...second } });
      if (res.ok) {
        // A full load, so the layout renders again with the signed-in user.
        window.location.assign(next);
        return;
      }
      const err = await errorOf(res);
      if (err?.code === 'TOTP_REQUIRED') setCredentials(signIn);
      else setError(await describeRefusal(res, err));
    } catch {
      setError('The dashboard server is unreachable; check the connection and try again.');
    }
    setBusy(false);
  }

  if (credentials)
    return (
      <form className="login-form" onSubmit={onSubmit} data-testid="login-second-factor">
        {recovery ? (
          <>
            <label htmlFor="login-recovery">Recovery code</label>
            <input
              key="recovery"
              id="login-recovery"
              name="recoveryCode"
              type="text"
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              required
              maxLength={40}
              // biome-ignore lint/a11y/noAutofocus: the code is the only thing to enter now
              autoFocus
              aria-invalid={error !== null}
              aria-describedby={error ? 'login-error' : undefined}
            />
          </>
        ) : (
          <>
            <label htmlFor="login-totp">Code of your authenticator app</label>
            <input
              key="totp"
              id="login-totp"
              name="totp"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]{6,7}"
              required
              maxLength={7}
              // biome-ignore lint/a11y/noAutofocus: the code is the only thing to enter now
              autoFocus
              aria-invalid={error !== null}
              aria-describedby={error ? 'login-error' : undefined}
            />
          </>
        )}
        <div id="login-error" role="alert" className="login-error" data-testid="login-error">
          {error}
        </div>
        <button type="submit" className="button-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <button
          type="button"
          className="button-quiet"
          onClick={() => {
            setRecovery(!recovery);
            setError(null);
          }}
        >
          {recovery ? 'Use the authenticator app' : 'Use a recovery code'}
        </button>
      </form>
    );

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
