import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SecondFactorPanel } from '@/components/second-factor-panel';
import { fetchSessionUser } from '@/lib/master-api';
import { ACCOUNT_PATH, loginPath } from '@/lib/session';
import './account.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Account · CCTV control room' };

/** The signed-in user's account: their second factor (TOTP), set up or removed here. */
export default async function AccountPage() {
  const user = await fetchSessionUser();
  if (!user) redirect(loginPath(ACCOUNT_PATH));
  return (
    <section className="panel account-panel" data-testid="account-page" aria-labelledby="account-title">
      <h1 id="account-title">Account · {user.username}</h1>
      {user.totpEnrolmentRequired ? (
        <p className="notice" data-testid="enrolment-required">
          Your role needs a second factor. Set it up to reach the rest of the control room.
        </p>
      ) : null}
      <SecondFactorPanel enabled={user.totpEnabled} />
    </section>
  );
}
