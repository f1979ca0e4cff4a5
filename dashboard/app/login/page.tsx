import type { Metadata } from 'next';
import { LoginForm } from '@/components/login-form';
import { safeNextPath } from '@/lib/session';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Sign in · CCTV control room' };

interface Props {
  searchParams: Promise<{ next?: string | string[] }>;
}

export default async function LoginPage({ searchParams }: Props) {
  const { next } = await searchParams;
  return (
    <section className="panel login-panel" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      <p className="sub">The control room shows the cameras your account may see.</p>
      <LoginForm next={safeNextPath(Array.isArray(next) ? next[0] : next)} />
    </section>
  );
}
