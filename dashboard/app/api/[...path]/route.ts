/**
 * The master's API on the dashboard's own origin. Sign-in goes through here so the master's
 * session cookie lands on the dashboard's host (cookies ignore ports, so the browser also
 * sends it on the websocket to the master), and pages need no cross-origin requests.
 */
import { runtimeEnv } from '@/lib/runtime-env';

export const dynamic = 'force-dynamic';

const TIMEOUT_MS = 10_000;
// The browser's origin goes along: the master refuses a change asked from another site's page.
const REQUEST_HEADERS = ['content-type', 'accept', 'cookie', 'origin'];
// content-disposition and content-length keep an export download a named file with a known size.
const RESPONSE_HEADERS = [
  'content-type',
  'retry-after',
  'cache-control',
  'content-disposition',
  'content-length',
];
const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

function failure(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status, headers: { 'cache-control': 'no-store' } });
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in the cause.
  const cause = err.cause instanceof Error ? err.cause.message : null;
  return cause ? `${err.message}: ${cause}` : err.message;
}

async function forward(request: Request): Promise<Response> {
  const base = new URL(runtimeEnv().masterUrl);
  const incoming = new URL(request.url);
  const target = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${incoming.pathname}`);
  target.search = incoming.search;
  // URL parsing resolves `..` and `%2e%2e`; anything that left /api/ was not meant for the master's API.
  if (!target.pathname.startsWith(`${base.pathname.replace(/\/+$/, '')}/api/`))
    return failure(404, 'NOT_FOUND', `no such API path: ${incoming.pathname}`);

  const headers = new Headers();
  for (const name of REQUEST_HEADERS) {
    const value = request.headers.get(name);
    if (value) headers.set(name, value);
  }
  // server.mjs sets x-forwarded-for to the real client (the peer, or what a trusted proxy in
  // front of it names), never what the client sent; the master believes it from this server
  // only (MASTER_TRUST_PROXY) for its sign-in throttle and audit log.
  const forwardedFor = request.headers.get('x-forwarded-for');
  if (forwardedFor) headers.set('x-forwarded-for', forwardedFor);

  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const body = hasBody ? await request.arrayBuffer() : null;

  // The deadline covers the master's answer, not the streaming of its body afterwards.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)),
    TIMEOUT_MS,
  );
  const onClientGone = () => controller.abort(new Error('the browser went away'));
  request.signal.addEventListener('abort', onClientGone, { once: true });
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers,
      body: body && body.byteLength > 0 ? body : null,
      redirect: 'manual',
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (err) {
    const why = controller.signal.aborted ? reason(controller.signal.reason) : reason(err);
    return failure(502, 'MASTER_UNREACHABLE', `the master cannot be reached (${why})`);
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', onClientGone);
  }

  const out = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = upstream.headers.get(name);
    if (value) out.set(name, value);
  }
  // Several cookies must stay separate headers; get() would join them with commas.
  for (const cookie of upstream.headers.getSetCookie()) out.append('set-cookie', cookie);
  const nullBody = NULL_BODY_STATUS.has(upstream.status) || request.method === 'HEAD';
  return new Response(nullBody ? null : upstream.body, { status: upstream.status, headers: out });
}

export const GET = forward;
export const POST = forward;
export const PATCH = forward;
export const PUT = forward;
export const DELETE = forward;
