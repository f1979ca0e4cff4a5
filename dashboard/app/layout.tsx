import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'CCTV control room',
  description: 'Fleet health and recordings of the edge CCTV cluster',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <nav className="top">
          <Link href="/" className="brand">
            <span className="rec" aria-hidden="true" /> CCTV control room
          </Link>
          <Link href="/">Fleet</Link>
        </nav>
        <main>{children}</main>
      </body>
    </html>
  );
}
