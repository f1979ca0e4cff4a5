/**
 * Probing a camera URL before it is saved: the master asks the chosen node to open the stream
 * (`POST /api/nodes/:id/probe`) and answers codec, size, rate, the transports that worked and one
 * JPEG frame, or a 422 with the reason (probe.ts `PROBE_ERRORS`).
 */
import type { ProbeResult } from '@cctv/protocol';
import { masterFetch } from '@/lib/master-fetch';
import { errorOf } from '@/lib/session';
import { probeErrorText, type Transport } from './camera-form';

export type ProbeOutcome = { ok: true; result: ProbeResult } | { ok: false; code: string; text: string };

/** The snapshot of a probe as an image source (the dashboard's policy allows `data:` images). */
export function snapshotUrl(result: ProbeResult): string {
  return `data:${result.snapshot.mime};base64,${result.snapshot.base64}`;
}

/** The master's refusal body: `{error:{code,message}}`, or a bare `{code,message}`. */
async function refusal(res: Response): Promise<{ code: string; message: string }> {
  const copy = res.clone();
  const wrapped = await errorOf(res);
  if (wrapped) return wrapped;
  try {
    const body = (await copy.json()) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string')
      return { code: body.code, message: typeof body.message === 'string' ? body.message : '' };
  } catch {
    // not JSON: the status says it all
  }
  return { code: `HTTP_${res.status}`, message: `HTTP ${res.status}` };
}

export async function probeCamera(
  nodeId: string,
  request: { url: string; password?: string; transports?: Transport[] },
): Promise<ProbeOutcome> {
  try {
    const res = await masterFetch('nodeProbe', { params: { id: nodeId }, body: request });
    if (res.ok) return { ok: true, result: await res.json() };
    const { code, message } = await refusal(res);
    return { ok: false, code, text: probeErrorText(code, message) };
  } catch {
    return { ok: false, code: 'DASHBOARD_UNREACHABLE', text: 'The dashboard server is unreachable.' };
  }
}
