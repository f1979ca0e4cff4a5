/** The browser's side of exports: asking the master for an MP4, listing jobs, form times. */
import type { ExportJobView, ExportRequest } from '@cctv/protocol';
import { EXPORT_MAX_RANGE_MS } from '@cctv/protocol/patterns';
import { masterFetch } from '../../lib/master-fetch';
import { errorOf } from '../../lib/session';

export type ExportAnswer<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; code: string | null; message: string };

async function answerOf<T>(res: Response): Promise<ExportAnswer<T>> {
  if (res.ok) return { ok: true, value: (await res.json()) as T };
  const err = await errorOf(res);
  return {
    ok: false,
    status: res.status,
    code: err?.code ?? null,
    message:
      err?.code === 'MASTER_UNREACHABLE'
        ? 'the master is unreachable'
        : `HTTP ${res.status}${err ? `: ${err.message}` : ''}`,
  };
}

export async function createExport(req: ExportRequest): Promise<ExportAnswer<ExportJobView>> {
  return answerOf<ExportJobView>(await masterFetch('exportCreate', { body: req }));
}

export async function listExports(signal?: AbortSignal): Promise<ExportAnswer<ExportJobView[]>> {
  return answerOf<ExportJobView[]>(await masterFetch('exports', signal ? { signal } : {}));
}

/** States after which a job changes no more (polling stops once every job is in one). */
export const FINAL_STATES: readonly ExportJobView['state'][] = ['done', 'failed', 'expired'];

const pad = (n: number) => String(n).padStart(2, '0');

/** `YYYY-MM-DDTHH:MM:SS` in local time, as `<input type="datetime-local" step="1">` shows it. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local value (local time) as epoch ms, or null when empty or invalid. */
export function fromLocalInput(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value);
  if (!m) return null;
  const n = (i: number) => Number(m[i] ?? 0);
  const ms = new Date(n(1), n(2) - 1, n(3), n(4), n(5), n(6), Number((m[7] ?? '0').padEnd(3, '0'))).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** Why the range cannot be exported, or null when it can. */
export function rangeProblem(from: number | null, to: number | null): string | null {
  if (from === null || to === null) return 'Give both the start and the end.';
  if (from >= to) return 'The start must be before the end.';
  if (to - from > EXPORT_MAX_RANGE_MS) return 'An export covers at most 1 hour.';
  return null;
}

export function sizeText(bytes: number | null): string {
  if (bytes === null) return '';
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
