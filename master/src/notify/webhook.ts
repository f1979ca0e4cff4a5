/**
 * Webhook deliveries: the notification's JSON POSTed to the channel's URL, signed Stripe/GitHub
 * style so the receiver can tell it came from this master and is fresh (ADR 0019; receivers
 * verify as docs/operations.md "Notifications" shows).
 */
import { createHmac } from 'node:crypto';
import { type AlertNotification, WEBHOOK_HEADERS, webhookHeadersProblem } from '@cctv/protocol';
import { delivered, failed, type SendResult } from './result.ts';

export interface WebhookTarget {
  url: string;
  secret: string;
  headers?: Record<string, string>;
}

export interface WebhookSendOptions {
  /** Whole attempt: connect, send, and the answer's headers. */
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  now?: () => Date;
}

/** The longest pause a receiver's `Retry-After` may ask for; beyond it the outbox's own backoff rules. */
const RETRY_AFTER_MAX_MS = 24 * 3600_000;
/** How much of a refusing receiver's answer goes into the delivery record. */
const ANSWER_EXCERPT = 200;

/**
 * The `X-CCTV-Signature` value: `sha256=` and the hex HMAC-SHA256, keyed with the channel's
 * secret, of the timestamp header, a dot and the raw body bytes (UTF-8).
 */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** Why the master will not POST to this URL, or null. */
export function webhookUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'only http and https URLs';
  // A secret in the URL's user part would be shown wherever the URL is; the channel's headers
  // carry credentials instead.
  if (u.username !== '' || u.password !== '') return 'URLs with credentials are refused (use headers)';
  return null;
}

/**
 * POSTs one notification. 2xx is delivered; 408, 425, 429, 5xx, network errors and timeouts may
 * succeed later; any other answer will not, redirects included (they are not followed: a
 * receiver that redirects is misconfigured, and following one would send the notification
 * where nobody configured it).
 */
export async function sendWebhook(
  target: WebhookTarget,
  notification: AlertNotification,
  opts: WebhookSendOptions,
): Promise<SendResult> {
  const urlProblem = webhookUrlProblem(target.url);
  if (urlProblem) return failed(false, urlProblem);
  if (!target.secret) return failed(false, 'the channel has no secret');
  const headerProblem = webhookHeadersProblem(target.headers);
  if (headerProblem) return failed(false, headerProblem);

  const host = new URL(target.url).host;
  const body = JSON.stringify(notification);
  const timestamp = Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
  const doFetch = opts.fetchImpl ?? fetch;
  let res: Response;
  try {
    res = await doFetch(target.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
      headers: {
        ...target.headers,
        'content-type': 'application/json',
        'user-agent': 'cctv-master',
        [WEBHOOK_HEADERS.event]: notification.type,
        [WEBHOOK_HEADERS.delivery]: notification.id,
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        [WEBHOOK_HEADERS.signature]: signWebhook(target.secret, timestamp, body),
      },
      body,
    });
  } catch (err) {
    return failed(true, `${host}: ${networkError(err, opts.timeoutMs)}`);
  }

  const status = res.status;
  if (status >= 200 && status < 300) {
    await res.body?.cancel().catch(() => {});
    return delivered;
  }
  const answer = await excerpt(res);
  const error = `${host} answered HTTP ${status}${answer ? `: ${answer}` : ''}`;
  if (status >= 300 && status < 400)
    return failed(false, `${error} (redirects are not followed: configure the final URL)`);
  if (status === 408 || status === 425 || status === 429 || status >= 500)
    return failed(true, error, retryAfter(res.headers.get('retry-after'), opts.now?.() ?? new Date()));
  return failed(false, error);
}

function networkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** The start of the answer's body, printable characters only (it ends up in the dashboard). */
async function excerpt(res: Response): Promise<string> {
  try {
    const reader = res.body?.getReader();
    if (!reader) return '';
    const chunk = await reader.read();
    await reader.cancel().catch(() => {});
    const text = Buffer.from(chunk.value ?? []).toString('utf8', 0, ANSWER_EXCERPT * 4);
    return text
      .replace(/\p{Cc}+/gu, ' ')
      .trim()
      .slice(0, ANSWER_EXCERPT);
  } catch {
    return '';
  }
}

/** `Retry-After` as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now.getTime());
  }
  return Math.min(ms, RETRY_AFTER_MAX_MS);
}
