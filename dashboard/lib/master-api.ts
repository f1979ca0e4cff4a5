import type { CameraView, NodeView } from '@cctv/protocol';
import { runtimeEnv } from './runtime-env';

/** Server-side reads of the master's REST API; a failure is returned, not thrown, so pages still render. */
export type Fetched<T> = { ok: true; value: T } | { ok: false; error: string };

async function getJson<T>(path: string): Promise<Fetched<T>> {
  const url = `${runtimeEnv().masterUrl}${path}`;
  try {
    const res = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return { ok: false, error: `${url}: HTTP ${res.status}` };
    return { ok: true, value: (await res.json()) as T };
  } catch (err) {
    return { ok: false, error: `${url}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export const fetchNodes = () => getJson<NodeView[]>('/api/nodes');
export const fetchCameras = () => getJson<CameraView[]>('/api/cameras');
