/**
 * Parsers for the few /proc files the host figures come from (proc(5)). Pure functions over
 * file text, so the arithmetic is tested on fixed strings; reading lives in the samplers.
 */

/** Kernel clock ticks per second for /proc times (USER_HZ: 100 on x86-64 and arm64 alike). */
export const USER_HZ = 100;

export interface PidStat {
  pid: number;
  ppid: number;
  /** One letter: R running, S sleeping, Z zombie, … */
  state: string;
  /** utime + stime of the process (all its threads), in clock ticks. */
  ticks: number;
  /** cutime + cstime: ticks of children it has waited for. */
  childTicks: number;
  /** Start time in clock ticks after boot; with the pid, identifies one process across samples. */
  startTicks: number;
}

/**
 * `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold spaces
 * and parentheses, so fields are counted from the last `)`.
 */
export function parsePidStat(text: string): PidStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  // After ')': field 3 (state) is index 0, so field n is index n - 3.
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const at = (field: number) => Number(f[field - 3]);
  const stat = {
    pid,
    ppid: at(4),
    state: f[0] ?? '?',
    ticks: at(14) + at(15),
    childTicks: at(16) + at(17),
    startTicks: at(22),
  };
  const numbers = [stat.pid, stat.ppid, stat.ticks, stat.childTicks, stat.startTicks];
  return numbers.every(Number.isFinite) ? stat : null;
}

/** Aggregate CPU times from the first line of `/proc/stat`, in clock ticks. */
export interface CpuTimes {
  /** idle + iowait. */
  idle: number;
  /** user + nice + system + idle + iowait + irq + softirq + steal (guest is inside user/nice). */
  total: number;
}

export function parseCpuTimes(procStat: string): CpuTimes | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 4 || !v.every(Number.isFinite)) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

export interface MemInfo {
  totalBytes: number;
  freeBytes: number;
  /** MemAvailable (kernel ≥ 3.14); MemFree + Buffers + Cached on older kernels. */
  availableBytes: number;
}

/** `/proc/meminfo`: values are in kB. */
export function parseMeminfo(text: string): MemInfo {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) kb.set(m[1], Number(m[2]));
  }
  const bytes = (key: string) => (kb.get(key) ?? 0) * 1024;
  const available = kb.has('MemAvailable')
    ? bytes('MemAvailable')
    : bytes('MemFree') + bytes('Buffers') + bytes('Cached');
  return { totalBytes: bytes('MemTotal'), freeBytes: bytes('MemFree'), availableBytes: available };
}

/** `/proc/loadavg`: "0.52 0.58 0.59 2/345 12345". */
export function parseLoadavg(text: string): { load1: number; load5: number; load15: number } {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  const ok = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v >= 0 ? v : 0);
  return { load1: ok(a), load5: ok(b), load15: ok(c) };
}

/** `/proc/uptime`: seconds since boot (first number), or null. */
export function parseUptime(text: string): number | null {
  const first = text.trim().split(/\s+/)[0];
  const v = first ? Number(first) : Number.NaN;
  return Number.isFinite(v) ? v : null;
}

/** VmRSS from `/proc/<pid>/status` in bytes; 0 when absent (zombies, kernel threads). */
export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(status);
  return m?.[1] ? Number(m[1]) * 1024 : 0;
}
