/** Capped exponential backoff: initial, initial×factor, … up to max. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const factor = policy.factor ?? 2;
  return Math.min(policy.maxMs, Math.round(policy.initialMs * factor ** Math.max(0, attempt)));
}

/** A sleep that ends early (resolving false) when the signal aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<boolean>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
