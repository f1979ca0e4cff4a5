import type { SignedInUser, UserSettingKey } from '@cctv/protocol';
import type { MasterRouteName } from '@cctv/protocol/master-routes';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { type MasterAnswerOf, type MasterArgs, type MasterCallArgs, masterRequest } from './master-fetch';
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

/** Route `name` of the master, asked for the visitor; never throws. */
export async function askMaster<N extends MasterRouteName>(
  name: N,
  ...[args]: MasterCallArgs<N>
): Promise<Answer<MasterAnswerOf<N>>> {
  const { path, init } = masterRequest(name, (args ?? {}) as MasterArgs<N>);
  const url = `${runtimeEnv().masterUrl}${path}`;
  try {
    const res = await fetch(url, {
      ...init,
      headers: await forwardedHeaders(),
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status === 401) return { ok: false, unauthenticated: true };
    if (!res.ok) return { ok: false, error: `${url}: HTTP ${res.status}`, status: res.status };
    return { ok: true, value: (await res.json()) as MasterAnswerOf<N> };
  } catch (err) {
    return { ok: false, error: `${url}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * A read for the page at `returnTo`. An ended session sends the visitor to sign in and then
 * back there, rather than rendering the page as if the fleet were empty.
 */
function signedIn<T>(answer: Answer<T>, returnTo: string): Fetched<T> {
  // redirect() throws, so it stays outside askMaster()'s try/catch.
  if ('unauthenticated' in answer) redirect(loginPath(returnTo));
  return answer;
}

export const fetchNodes = async (returnTo: string) => signedIn(await askMaster('nodes'), returnTo);
export const fetchCameras = async (returnTo: string) => signedIn(await askMaster('cameras'), returnTo);

/** One of the user's own settings (`/api/me/settings/:key`); null when never saved. */
export async function fetchSetting(
  key: UserSettingKey,
  returnTo: string,
): Promise<Fetched<MasterAnswerOf<'settingGet'>['value'] | null>> {
  const answer = await askMaster('settingGet', { params: { key } });
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
  const answer = await askMaster('me');
  return answer.ok ? answer.value : null;
}
