/** URLs the dashboard needs, read per request so one build serves any deployment. */
export interface RuntimeEnv {
  /** Where this server reaches the master: server-side reads and the browser's `/api/*` proxy. */
  masterUrl: string;
  /** Where the browser opens the fleet websocket. */
  masterPublicUrl: string;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function runtimeEnv(): RuntimeEnv {
  const masterUrl = trimSlash(process.env.MASTER_URL || 'http://127.0.0.1:8080');
  return {
    masterUrl,
    masterPublicUrl: trimSlash(process.env.MASTER_PUBLIC_URL || masterUrl),
  };
}
