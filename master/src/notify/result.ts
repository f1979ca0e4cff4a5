/**
 * What a channel sender answers the outbox: delivered, or not and whether trying again later
 * can help. Senders never throw for a failed delivery; the outbox owns retries and backoff.
 */
export type SendResult =
  | { ok: true }
  | {
      ok: false;
      /** True when the same notification may succeed later (a timeout, a busy or broken server). */
      retry: boolean;
      /** What went wrong, for the delivery record; never holds a secret. */
      error: string;
      /** The receiver asked for this pause before the next attempt (HTTP `Retry-After`). */
      retryAfterMs?: number;
    };

export const delivered: SendResult = { ok: true };

export function failed(retry: boolean, error: string, retryAfterMs?: number): SendResult {
  return retryAfterMs === undefined ? { ok: false, retry, error } : { ok: false, retry, error, retryAfterMs };
}
