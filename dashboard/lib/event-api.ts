import type { EventView } from '@cctv/protocol';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { runtimeEnv } from './runtime-env';
import { loginPath } from './session';

/**
 * Server-side read of one event with the visitor's session (lib/master-api.ts has no event
 * reads and keeps its request helper to itself). An ended session goes to sign in.
 */
export type EventRead =
  | { ok: true; event: EventView }
  | { ok: false; missing: true }
  | { ok: false; missing: false; error: string };

export async function fetchEvent(id: string, returnTo: string): Promise<EventRead> {
  const incoming = await headers();
  const forwarded = new Headers();
  const cookie = incoming.get('cookie');
  if (cookie) forwarded.set('cookie', cookie);
  const forwardedFor = incoming.get('x-forwarded-for');
  if (forwardedFor) forwarded.set('x-forwarded-for', forwardedFor);

  const url = `${runtimeEnv().masterUrl}/api/events/${encodeURIComponent(id)}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: forwarded, cache: 'no-store', signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    return {
      ok: false,
      missing: false,
      error: `${url}: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  // redirect() throws, so it stays outside the try.
  if (res.status === 401) redirect(loginPath(returnTo));
  // 400: not a uuid; 404: unknown, or a camera this user may not see (the master does not say which).
  if (res.status === 404 || res.status === 400) return { ok: false, missing: true };
  if (!res.ok) return { ok: false, missing: false, error: `${url}: HTTP ${res.status}` };
  return { ok: true, event: (await res.json()) as EventView };
}
