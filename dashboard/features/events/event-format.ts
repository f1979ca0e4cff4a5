import type { EventView } from '@cctv/protocol';

/** The end of an event so far: its end, or the newest frame described while it is still open. */
export function eventEndMs(e: EventView): number {
  return Date.parse(e.endedAt ?? e.lastAt);
}

export function eventDurationMs(e: EventView): number {
  return Math.max(0, eventEndMs(e) - Date.parse(e.startedAt));
}

/** `850 ms`, `4.2 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number): string {
  // Units are chosen after rounding, so 999.6 ms reads `1.0 s`, not `1000 ms`.
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  const tenths = s.toFixed(1);
  if (Number(tenths) < 60) return `${tenths} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  return `${Math.floor(whole / 3600)} h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')} min`;
}

/** A 0..1 score as a whole percentage. */
export function formatScore(score: number): string {
  return `${Math.round(score * 100)}%`;
}

/** A time in the browser's zone with seconds: `2026-01-31 08:00:03`. */
export function formatLocalTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The same in UTC, for server-rendered HTML (the server's zone is not the viewer's). */
export function formatUtcTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
