import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { Alerts } from '@/components/alerts';
import { SessionBar } from '@/components/session-bar';
import { fetchSessionUser } from '@/lib/master-api';
import { navFor } from '@/lib/nav';
import { runtimeEnv } from '@/lib/runtime-env';
import './globals.css';

export const metadata: Metadata = {
  title: 'CCTV control room',
  description: 'Fleet health and recordings of the edge CCTV cluster',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const user = await fetchSessionUser();
  return (
    <html lang="en">
      <body>
        <nav className="top">
          <Link href="/" className="brand">
            <span className="rec" aria-hidden="true" /> CCTV control room
          </Link>
          {navFor(user?.role ?? null).map((item) => (
            <Link key={item.href} href={item.href}>
              {item.label}
            </Link>
          ))}
          <Alerts masterPublicUrl={runtimeEnv().masterPublicUrl} username={user?.username ?? null} />
          <SessionBar user={user} />
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
