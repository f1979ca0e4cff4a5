/**
 * The visible stretch of time on the timeline: its end and width. `end: null` follows now,
 * so the bars keep moving with the recording; panning back to now resumes following.
 */
export interface TimeWindow {
  end: number | null;
  spanMs: number;
}

export const MIN_SPAN_MS = 60_000;
/** The master's timeline answers at most 31 days; a week is plenty for one bar. */
export const MAX_SPAN_MS = 7 * 24 * 3600_000;
export const PRESETS: readonly { label: string; spanMs: number }[] = [
  { label: '10 min', spanMs: 10 * 60_000 },
  { label: '1 h', spanMs: 3600_000 },
  { label: '6 h', spanMs: 6 * 3600_000 },
  { label: '24 h', spanMs: 24 * 3600_000 },
];
/** One zoom step (button, key or wheel notch) halves or doubles the span. */
export const ZOOM_STEP = 2;

export const clampSpan = (spanMs: number) => Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, Math.round(spanMs)));

/** `[from, to)` in epoch ms for the window at `now`. */
export function bounds(w: TimeWindow, now: number): { from: number; to: number } {
  const to = w.end ?? now;
  return { from: to - w.spanMs, to };
}

/** A window ending at `end`, following now again when that is at or past now. */
function ending(end: number, spanMs: number, now: number): TimeWindow {
  return { end: end >= now ? null : Math.round(end), spanMs };
}

/** A window of `spanMs` with `at` in the middle (or ending now when that would reach the future). */
export function centredOn(at: number, spanMs: number, now: number): TimeWindow {
  const span = clampSpan(spanMs);
  return ending(at + span / 2, span, now);
}

/** Pans by `fraction` of the span (negative: back in time). */
export function pan(w: TimeWindow, fraction: number, now: number): TimeWindow {
  const { to } = bounds(w, now);
  return ending(to + fraction * w.spanMs, w.spanMs, now);
}

/**
 * Zooms by `factor` (< 1 in, > 1 out) keeping the moment at `anchor` (0..1 across the bar)
 * where it is; a window that follows now keeps following it.
 */
export function zoom(w: TimeWindow, factor: number, anchor: number, now: number): TimeWindow {
  const span = clampSpan(w.spanMs * factor);
  if (w.end === null) return { end: null, spanMs: span };
  const { from } = bounds(w, now);
  const pivot = from + anchor * w.spanMs;
  return ending(pivot + (1 - anchor) * span, span, now);
}

/** 0..1 across the bar for time `t` (outside the window: below 0 or above 1). */
export const fractionOf = (t: number, from: number, to: number) => (t - from) / (to - from);

/** Tick marks for a bar: a round step giving about `count` ticks. */
export function ticks(from: number, to: number, count = 8): number[] {
  const steps = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
    10_800_000, 21_600_000, 43_200_000, 86_400_000,
  ];
  const want = (to - from) / count;
  const step = steps.find((s) => s >= want) ?? 86_400_000;
  const out: number[] = [];
  // Local midnight-aligned steps read better than UTC-aligned ones for steps of an hour or more.
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((from - offset) / step) * step + offset; ; t += step) {
    // Past a change of summer time the local clock moved: the tick moves with it (00:00 stays 00:00);
    // an hour the change skipped would give a tick twice.
    const tick = t + new Date(t).getTimezoneOffset() * 60_000 - offset;
    if (!(tick < to)) break;
    if (tick > (out.at(-1) ?? Number.NEGATIVE_INFINITY)) out.push(tick);
  }
  return out;
}

/** A tick's label: seconds only when the step is below a minute, the date when it is a day. */
export function tickLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  // `hourCycle: 'h23'`, not `hour12: false`, which gives `24:05` for 00:05 in some locales (en-US).
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  if (spanMs <= 5 * 60_000) return d.toLocaleTimeString([], { hourCycle: 'h23' });
  if (spanMs > 2 * 86_400_000) return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}`;
  return hm;
}
