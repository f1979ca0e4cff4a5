'use client';

import type { TotpSetup } from '@cctv/protocol';
import { type FormEvent, useState } from 'react';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf, LOGIN_PATH } from '@/lib/session';

type Step =
  | { kind: 'off' }
  | { kind: 'scanning'; setup: TotpSetup }
  | { kind: 'codes'; recoveryCodes: string[] }
  | { kind: 'on' };

/** Digits only: apps show codes as `123 456`. */
const digits = (v: FormDataEntryValue | null) => String(v ?? '').replace(/\D/g, '');

async function refusal(res: Response): Promise<string> {
  const err = await errorOf(res);
  if (err?.code === 'BAD_TOTP_CODE') return 'That code does not match: check the app and try the next one.';
  if (res.status === 429)
    return `Too many attempts, try again in ${res.headers.get('retry-after') ?? 'a few'} s.`;
  return err ? err.message : `HTTP ${res.status}`;
}

/**
 * The second factor of the signed-in user: setting it up (QR code, the secret for typing, a
 * first code, then the recovery codes shown once) or removing it (a code or the password; the
 * master then ends the user's sessions).
 */
export function SecondFactorPanel({ enabled }: { enabled: boolean }) {
  const [step, setStep] = useState<Step>(enabled ? { kind: 'on' } : { kind: 'off' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(work: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch {
      setError('The dashboard server is unreachable; try again.');
    }
    setBusy(false);
  }

  const start = () =>
    run(async () => {
      const res = await masterFetch('totpSetup');
      if (!res.ok) return setError(await refusal(res));
      setStep({ kind: 'scanning', setup: await res.json() });
    });

  const enable = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = digits(new FormData(event.currentTarget).get('code'));
    return run(async () => {
      const res = await masterFetch('totpEnable', { body: { code } });
      if (!res.ok) return setError(await refusal(res));
      setStep({ kind: 'codes', recoveryCodes: (await res.json()).recoveryCodes });
    });
  };

  const disable = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const code = digits(form.get('code'));
    const password = String(form.get('password') ?? '');
    return run(async () => {
      const res = await masterFetch('totpDisable', { body: code ? { code } : { password } });
      // Removing it ended every session of the user: sign in again.
      if (res.status === 204) return window.location.assign(LOGIN_PATH);
      setError(await refusal(res));
    });
  };

  return (
    <div className="second-factor" data-testid="second-factor">
      <h2>Second factor</h2>
      {step.kind === 'off' ? (
        <>
          <p className="sub">
            Signing in asks for a code of an authenticator app (TOTP) as well as the password.
          </p>
          <button type="button" className="button-primary" onClick={start} disabled={busy}>
            Set up an authenticator app
          </button>
        </>
      ) : null}
      {step.kind === 'scanning' ? (
        <>
          <p>Scan this code with the app, or type the secret into it, then enter the code it shows.</p>
          {/* A data: URL made by the master: no request leaves the page for it. */}
          {/* biome-ignore lint/performance/noImgElement: a generated data URL, nothing to optimise */}
          <img
            className="totp-qr"
            src={step.setup.qrDataUrl}
            alt="QR code for the authenticator app"
            data-testid="totp-qr"
          />
          <p>
            Secret:{' '}
            <code className="totp-secret" data-testid="totp-secret">
              {step.setup.secret}
            </code>
          </p>
          <form onSubmit={enable}>
            <label htmlFor="totp-code">Code</label>
            <input
              id="totp-code"
              name="code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9 ]{6,7}"
              maxLength={7}
              required
            />
            <button type="submit" className="button-primary" disabled={busy}>
              Turn on
            </button>
          </form>
        </>
      ) : null}
      {step.kind === 'codes' ? (
        <>
          <p data-testid="totp-enabled">
            The second factor is on. Keep these recovery codes somewhere safe: each signs in once without the
            app, and they are shown only now.
          </p>
          <ul className="recovery-codes" data-testid="recovery-codes">
            {step.recoveryCodes.map((c) => (
              <li key={c}>{c}</li>
            ))}
          </ul>
          <button type="button" className="button-primary" onClick={() => window.location.assign('/')}>
            I have kept them
          </button>
        </>
      ) : null}
      {step.kind === 'on' ? (
        <>
          <p data-testid="totp-on">Signing in asks for a code of your authenticator app.</p>
          <form onSubmit={disable}>
            <label htmlFor="totp-off-code">Code</label>
            <input
              id="totp-off-code"
              name="code"
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={7}
            />
            <label htmlFor="totp-off-password">or password</label>
            <input id="totp-off-password" name="password" type="password" autoComplete="current-password" />
            <button type="submit" className="button-quiet" disabled={busy}>
              Turn off
            </button>
          </form>
        </>
      ) : null}
      <div role="alert" className="login-error" data-testid="second-factor-error">
        {error}
      </div>
    </div>
  );
}
