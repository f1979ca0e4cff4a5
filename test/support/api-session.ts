/**
 * Signed-in API access to a real master over HTTP and its websocket. No test runner here:
 * tests reach it through `session.ts`, benchmarks import it directly.
 */
import { WebSocket } from 'ws';

export interface ApiSession {
  /** The `Cookie` header value carrying the session. */
  cookie: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  getJson<T>(path: string): Promise<T>;
  postJson(path: string, body: unknown): Promise<Response>;
  /** A master websocket (`/ws`: fleet pushes, `/ws/live`: live signalling), signed in as this session. */
  socket(path?: '/ws' | '/ws/live'): WebSocket;
}

/** Signs in; throws with the master's answer when the login is refused. */
export async function signIn(baseUrl: string, username: string, password: string): Promise<ApiSession> {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`sign-in as ${username} refused: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  if (!cookie.startsWith('cctv_session=')) throw new Error(`no session cookie in "${setCookie}"`);
  const session: ApiSession = {
    cookie,
    fetch: (path, init = {}) =>
      fetch(`${baseUrl}${path}`, { ...init, headers: { ...(init.headers ?? {}), cookie } }),
    getJson: async <T>(path: string) => {
      const r = await session.fetch(path);
      if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    },
    postJson: (path, body) =>
      session.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    socket: (path = '/ws') =>
      new WebSocket(`${baseUrl.replace(/^http/, 'ws')}${path}`, { headers: { cookie } }),
  };
  return session;
}
