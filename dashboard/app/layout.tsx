import type { Metadata, Viewport } from 'next';
import { headers } from 'next/headers';
import Link from 'next/link';
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { SessionBar } from '@/components/session-bar';
import { TopMenu } from '@/components/top-menu';
import { Alerts } from '@/features/alerts/alert-bell';
import { fetchSessionUser } from '@/lib/master-api';
import { navFor } from '@/lib/nav';
import { runtimeEnv } from '@/lib/runtime-env';
import { ACCOUNT_PATH, LOGIN_PATH, PATH_HEADER } from '@/lib/session';
import './globals.css';

export const metadata: Metadata = {
  title: 'CCTV control room',
  description: 'Fleet health and recordings of the edge CCTV cluster',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await fetchSessionUser();
  // A role that needs a second factor the user has not set up: the account page only (the
  // master refuses everything else to this session anyway).
  const enrolling = user?.totpEnrolmentRequired === true;
  const path = (await headers()).get(PATH_HEADER) ?? '';
  if (enrolling && path !== ACCOUNT_PATH && path !== LOGIN_PATH) redirect(ACCOUNT_PATH);
  const shown = enrolling ? null : user;
  return (
    <html lang="en">
      <body>
        <nav className="top">
          <Link href="/" className="brand">
            <span className="rec" aria-hidden="true" /> CCTV control room
          </Link>
          <TopMenu items={navFor(shown?.role ?? null)}>
            <SessionBar user={user} />
          </TopMenu>
          <Alerts masterPublicUrl={runtimeEnv().masterPublicUrl} username={shown?.username ?? null} />
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
