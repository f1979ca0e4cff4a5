/**
 * Judges whether one software encode (libx265) keeps up with its live camera. Fed ffmpeg's
 * output time from each `-progress` block and the ffmpeg's CPU time; says "overloaded" when,
 * after a warm-up, the encode falls behind real time (its output advances slower than the wall
 * clock) or takes more of the host than its CPU budget. Pure: times come in as arguments.
 *
 * Falling behind is judged by speed and by lag together. Speed alone would wait a whole window
 * whatever the shortfall, while the footage still queued in ffmpeg when the run is replaced is
 * lost: the lag is what the switch costs, so a slow encode is replaced as soon as it is more
 * than `maxLagS` behind, and a nearly-real-time one once its window shows it.
 *
 * A camera (or its network) going quiet slows the output too. What tells the two apart is
 * what ffmpeg asked of the CPU: a slow encoder is runnable nearly all the time (on a CPU, or
 * waiting for one on a busy host or under a quota), a starved input leaves it asleep. Without
 * that demand (at least `minDemand` of one core over the span), slow output is not held
 * against the encoder.
 */

export interface EncodeWatchSettings {
  /** Output seconds per wall second below which the encode does not hold real time (0: never). */
  minSpeed: number;
  /** Seconds after the first output before anything is judged (connecting, first GOP). */
  warmupS: number;
  /** The longest stretch speed and CPU are measured over. */
  windowS: number;
  /** Behind real time by this much (over at least `minSpanS`) and slower than minSpeed: overloaded. */
  maxLagS: number;
  /** The shortest stretch a speed verdict may rest on. */
  minSpanS: number;
  /** Most of the host's CPU (percent, 100 = every core) the encode may take over a window (0: no limit). */
  cpuBudgetPercent: number;
  /** The host's cores, to turn the budget into percent of one core. */
  cores: number;
}

/** Runnable (on a CPU or waiting for one) this share of one core: the encoder is what is slow. */
const MIN_DEMAND = 0.5;

export interface Overload {
  cause: 'speed' | 'cpu';
  /** Output seconds per wall second over the span. */
  speed: number;
  /** Seconds the encode fell behind over the span. */
  lagS: number;
  spanS: number;
  /** The ffmpeg's CPU in percent of one core over the span; null when not measured. */
  cpuPercent: number | null;
  /** One line for hello, heartbeat and the log. */
  text: string;
}

interface Point {
  atMs: number;
  outS: number;
}

interface CpuPoint {
  atMs: number;
  cpuS: number;
  /** Runnable but waiting for a CPU; null where the kernel does not say. */
  waitS: number | null;
}

export class EncodeWatch {
  private points: Point[] = [];
  private cpuPoints: CpuPoint[] = [];
  private firstOutputMs: number | null = null;

  constructor(
    private readonly settings: EncodeWatchSettings,
    /** Names the encoder in the verdict's text. */
    private readonly encoder = 'libx265',
  ) {}

  /** One progress block: the output time ffmpeg reached (seconds) at wall time atMs. */
  progress(atMs: number, outS: number): void {
    if (!Number.isFinite(outS) || outS < 0) return;
    if (this.firstOutputMs === null) {
      if (outS <= 0) return;
      this.firstOutputMs = atMs;
    }
    if (!this.warm(atMs)) return;
    this.points.push({ atMs, outS });
    this.trim(this.points, atMs);
  }

  /**
   * The ffmpeg's total CPU time and time waiting for a CPU (seconds, every thread; wait null
   * where unknown) at wall time atMs.
   */
  cpu(atMs: number, cpuS: number, waitS: number | null = null): void {
    if (!Number.isFinite(cpuS) || !this.warm(atMs)) return;
    const last = this.cpuPoints.at(-1);
    if (last && cpuS < last.cpuS) this.cpuPoints = []; // another process (the pid was reused)
    // A thread that ended took its waiting time with it: what came before no longer compares.
    if (last && waitS !== null && last.waitS !== null && waitS < last.waitS)
      for (const p of this.cpuPoints) p.waitS = null;
    this.cpuPoints.push({ atMs, cpuS, waitS });
    this.trim(this.cpuPoints, atMs);
  }

  /**
   * Overloaded now, and why; null while the encode keeps up (or too little is known). Judged
   * over every stretch of the window that ends now and lasts at least `minSpanS`, so an encode
   * that slows down after a good stretch is caught as soon as the slow part alone shows it.
   */
  verdict(): Overload | null {
    const s = this.settings;
    const last = this.points.at(-1);
    const cpuPercent = this.cpuPercent();
    if (last && s.minSpeed > 0) {
      for (const first of this.points) {
        const spanS = (last.atMs - first.atMs) / 1000;
        if (spanS < s.minSpanS) break;
        const outS = last.outS - first.outS;
        const speed = outS / spanS;
        const lagS = spanS - outS;
        const full = spanS >= s.windowS - 1;
        const demand = this.demand(first.atMs);
        const starved = demand === null || demand >= MIN_DEMAND;
        if (speed < s.minSpeed && (lagS >= s.maxLagS || full) && starved)
          return this.overload('speed', speed, lagS, spanS, cpuPercent);
      }
    }
    const cpuSpanS = this.cpuSpanS();
    if (cpuPercent !== null && s.cpuBudgetPercent > 0 && cpuSpanS >= s.windowS - 1) {
      const limit = s.cpuBudgetPercent * Math.max(1, s.cores);
      const first = this.points[0];
      if (cpuPercent > limit) {
        const speed =
          first && last && last.atMs > first.atMs
            ? (last.outS - first.outS) / ((last.atMs - first.atMs) / 1000)
            : 1;
        return this.overload('cpu', speed, 0, cpuSpanS, cpuPercent);
      }
    }
    return null;
  }

  private overload(
    cause: Overload['cause'],
    speed: number,
    lagS: number,
    spanS: number,
    cpuPercent: number | null,
  ): Overload {
    const cpu = cpuPercent === null ? '' : `, ffmpeg ${Math.round(cpuPercent)} % of a core`;
    const host = Math.round(cpuPercent === null ? 0 : cpuPercent / Math.max(1, this.settings.cores));
    const text =
      cause === 'speed'
        ? `${this.encoder} could not hold real time (speed ${speed.toFixed(2)}× over ${Math.round(spanS)} s, ${lagS.toFixed(1)} s behind${cpu})`
        : `${this.encoder} took ${host} % of the host over ${Math.round(spanS)} s, over its budget of ${this.settings.cpuBudgetPercent} %${cpu ? ` (${cpu.slice(2)})` : ''}`;
    return { cause, speed, lagS, spanS, cpuPercent, text };
  }

  /**
   * Cores' worth of CPU the ffmpeg was runnable for since `fromMs` (on a CPU or waiting for
   * one); null when not known (no CPU points over the span, or no wait times from the kernel).
   */
  private demand(fromMs: number): number | null {
    const last = this.cpuPoints.at(-1);
    const first = [...this.cpuPoints].reverse().find((p) => p.atMs <= fromMs + 500) ?? this.cpuPoints[0];
    if (!first || !last || last.atMs - first.atMs < 1000 || first.waitS === null || last.waitS === null)
      return null;
    const runnable = last.cpuS - first.cpuS + (last.waitS - first.waitS);
    return runnable / ((last.atMs - first.atMs) / 1000);
  }

  private cpuPercent(): number | null {
    const first = this.cpuPoints[0];
    const last = this.cpuPoints.at(-1);
    if (!first || !last || last.atMs - first.atMs < 1000) return null;
    return ((last.cpuS - first.cpuS) / ((last.atMs - first.atMs) / 1000)) * 100;
  }

  private cpuSpanS(): number {
    const first = this.cpuPoints[0];
    const last = this.cpuPoints.at(-1);
    return first && last ? (last.atMs - first.atMs) / 1000 : 0;
  }

  private warm(atMs: number): boolean {
    return this.firstOutputMs !== null && atMs - this.firstOutputMs >= this.settings.warmupS * 1000;
  }

  /** Keeps the points of the last window (and the one just before it, as its start). */
  private trim<T extends { atMs: number }>(points: T[], atMs: number): void {
    const from = atMs - this.settings.windowS * 1000;
    while (points.length > 1 && (points[1] as T).atMs <= from) points.shift();
  }
}
