import type { CameraView, NodeView, SignedInUser } from '@cctv/protocol';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { runtimeEnv } from './runtime-env';
import { loginPath, SESSION_COOKIE } from './session';

/** Server-side reads of the master's REST API; a failure is returned, not thrown, so pages still render. */
export type Fetched<T> = { ok: true; value: T } | { ok: false; error: string };

/** A failed read keeps the master's HTTP status, when it answered, for callers that tell refusals apart. */
export type Answer<T> =
  | { ok: true; value: T }
  | { ok: false; error: string; status?: number }
  | { ok: false; unauthenticated: true };

/** The visitor's session and address, so the master answers for them and not for this server. */
async function forwardedHeaders(): Promise<Headers> {
  const incoming = await headers();
  const out = new Headers();
  const cookie = incoming.get('cookie');
  if (cookie) out.set('cookie', cookie);
  const forwardedFor = incoming.get('x-forwarded-for');
  if (forwardedFor) out.set('x-forwarded-for', forwardedFor);
  return out;
}

/** `path` on the master, asked for the visitor; never throws. */
export async function askMaster<T>(path: string): Promise<Answer<T>> {
  const url = `${runtimeEnv().masterUrl}${path}`;
  try {
    const res = await fetch(url, {
      headers: await forwardedHeaders(),
      cache: 'no-store',
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status === 401) return { ok: false, unauthenticated: true };
    if (!res.ok) return { ok: false, error: `${url}: HTTP ${res.status}`, status: res.status };
    return { ok: true, value: (await res.json()) as T };
  } catch (err) {
    return { ok: false, error: `${url}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * A read for the page at `returnTo`. An ended session sends the visitor to sign in and then
 * back there, rather than rendering the page as if the fleet were empty.
 */
async function getJson<T>(path: string, returnTo: string): Promise<Fetched<T>> {
  const answer = await askMaster<T>(path);
  // redirect() throws, so it stays outside askMaster()'s try/catch.
  if ('unauthenticated' in answer) redirect(loginPath(returnTo));
  return answer;
}

export const fetchNodes = (returnTo: string) => getJson<NodeView[]>('/api/nodes', returnTo);
export const fetchCameras = (returnTo: string) => getJson<CameraView[]>('/api/cameras', returnTo);

/** One of the user's own settings (`/api/me/settings/:key`); null when never saved. */
export async function fetchSetting<T>(key: string, returnTo: string): Promise<Fetched<T | null>> {
  const answer = await askMaster<{ value: T }>(`/api/me/settings/${encodeURIComponent(key)}`);
  if ('unauthenticated' in answer) redirect(loginPath(returnTo));
  if (!answer.ok) return answer.error.endsWith('HTTP 404') ? { ok: true, value: null } : answer;
  return { ok: true, value: answer.value.value };
}

/**
 * Who is signed in, with their second factor, or null (no session, an ended one, or no master):
 * never redirects.
 */
export async function fetchSessionUser(): Promise<SignedInUser | null> {
  const cookie = (await headers()).get('cookie') ?? '';
  if (!cookie.includes(`${SESSION_COOKIE}=`)) return null;
  const answer = await askMaster<SignedInUser>('/api/auth/me');
  return answer.ok ? answer.value : null;
}
