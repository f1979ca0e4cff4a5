/** Where a page sends a visitor without a session, and where it sends them back afterwards. */

export const SESSION_COOKIE = 'cctv_session';
export const LOGIN_PATH = '/login';
/** Where a user sets up (or removes) their second factor. */
export const ACCOUNT_PATH = '/account';
/** The page's path, as the proxy passes it to server components. */
export const PATH_HEADER = 'x-cctv-path';

/**
 * `raw` when it is a path on this site, else `/`. Protocol-relative (`//host`) and
 * backslash forms (`/\host`, which browsers read as `//host`) would leave the site after
 * sign-in, so only a plain absolute path passes.
 */
export function safeNextPath(raw: unknown): string {
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//')) return '/';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  if (raw === LOGIN_PATH || raw.startsWith(`${LOGIN_PATH}?`)) return '/';
  return raw;
}

/** `/login?next=<path>`. */
export function loginPath(next: string): string {
  return `${LOGIN_PATH}?next=${encodeURIComponent(safeNextPath(next))}`;
}

/** The master's `{error:{code,message}}` body, or null for anything else. */
export async function errorOf(res: Response): Promise<{ code: string; message: string } | null> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    const { code, message } = body.error ?? {};
    return typeof code === 'string' ? { code, message: typeof message === 'string' ? message : code } : null;
  } catch {
    return null;
  }
}

export type Refusal = { ok: false; status: number; message: string };

/** A refused request, with the master's own explanation when it gave one. */
export async function refusalOf(res: Response): Promise<Refusal> {
  const err = await errorOf(res);
  const message =
    err?.code === 'MASTER_UNREACHABLE'
      ? 'the master is unreachable'
      : `HTTP ${res.status}${err ? `: ${err.message}` : ''}`;
  return { ok: false, status: res.status, message };
}
