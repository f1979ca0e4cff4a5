/** Signed-in API access for tests that drive a real master over HTTP and its websocket. */
import { WebSocket } from 'ws';
import { tempDir } from './index.ts';
import { serviceTlsEnv } from './tls.ts';

/** The first admin's password tests give the master (`MASTER_ADMIN_PASSWORD`). */
export const TEST_ADMIN_PASSWORD = 'cctv-test-secret-pw-1';

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

/** Signs in as the first admin made from TEST_ADMIN_PASSWORD. */
export const signInAdmin = (baseUrl: string) => signIn(baseUrl, 'admin', TEST_ADMIN_PASSWORD);

/** The environment of a master under test: the given database, free ports, loopback only. */
export async function testMasterEnv(
  databaseUrl: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    ...serviceTlsEnv(),
    DATABASE_URL: databaseUrl,
    MASTER_DATA_DIR: await tempDir(),
    MASTER_HTTP_PORT: '0',
    MQTT_PORT: '0',
    MASTER_HTTP_HOST: '127.0.0.1',
    MQTT_HOST: '127.0.0.1',
    ...extra,
  };
}
