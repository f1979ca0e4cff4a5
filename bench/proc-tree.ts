/**
 * CPU and memory of a process and everything below it, read straight from /proc by the
 * benchmark (independently of the agent's own sampler, so the two can be compared).
 *
 * CPU between two snapshots is the growth of utime+stime+cutime+cstime summed over the tree:
 * a child that exits inside the window and is reaped by a member of the tree moves its time
 * into that member's cutime/cstime, so nothing is lost. A process first seen in the second
 * snapshot counts from zero (it started inside the window). Figures are % of ONE core.
 */
import { readdir, readFile } from 'node:fs/promises';

const HZ = 100; // USER_HZ on x86-64 and arm64
const PAGE = 4096;

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  startTicks: number;
  /** utime + stime */
  ticks: number;
  /** stime alone: kernel work done for the process (syscalls: file and socket I/O) */
  systemTicks: number;
  /** cutime + cstime: reaped children */
  childTicks: number;
}

async function read(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) return null;
  const f = text
    .slice(close + 2)
    .split(' ')
    .map(Number);
  // After ')': field 3 (state) is index 0, so field n is index n - 3.
  const at = (n: number) => f[n - 3] ?? Number.NaN;
  const s = {
    pid: Number.parseInt(text, 10),
    ppid: at(4),
    comm: text.slice(open + 1, close),
    startTicks: at(22),
    ticks: at(14) + at(15),
    systemTicks: at(15),
    childTicks: at(16) + at(17),
  };
  return Number.isFinite(s.ticks) && Number.isFinite(s.ppid) ? s : null;
}

async function allStats(): Promise<ProcStat[]> {
  const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const stats = await Promise.all(names.map(async (n) => parseStat(await read(`/proc/${n}/stat`))));
  return stats.filter((s): s is ProcStat => s !== null);
}

/** The root and its descendants (any depth), root first. */
function tree(stats: ProcStat[], rootPid: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const c of byParent.get(out[i]?.pid ?? -1) ?? []) out.push(c);
  return out;
}

/** Which bucket a process of the tree belongs to: the root itself, ffmpeg, or anything else. */
export type Part = 'root' | 'ffmpeg' | 'other';
const partOf = (s: ProcStat, rootPid: number): Part =>
  s.pid === rootPid ? 'root' : s.comm === 'ffmpeg' ? 'ffmpeg' : 'other';

export interface TreeSnapshot {
  /** Seconds since boot (from /proc/uptime). */
  at: number;
  procs: Map<string, { part: Part; ticks: number; systemTicks: number; childTicks: number }>;
}

async function uptime(): Promise<number> {
  return Number.parseFloat(await read('/proc/uptime'));
}

export async function snapshot(rootPid: number): Promise<TreeSnapshot> {
  const at = await uptime();
  const procs: TreeSnapshot['procs'] = new Map();
  for (const s of tree(await allStats(), rootPid))
    procs.set(`${s.pid}:${s.startTicks}`, {
      part: partOf(s, rootPid),
      ticks: s.ticks,
      systemTicks: s.systemTicks,
      childTicks: s.childTicks,
    });
  return { at, procs };
}

export interface CpuSplit {
  total: number;
  /** The root's own threads (the agent's Node process). */
  root: number;
  /** The part of `root` spent in the kernel. */
  rootSystem: number;
  ffmpeg: number;
  /** Other live descendants (tsx's esbuild helper) and every reaped child (ffprobe, a restarted ffmpeg). */
  other: number;
}

/**
 * % of one core used by the tree between two snapshots, split by part. Sums over each snapshot
 * are subtracted, so a process that ended in between takes back what it had at `a` while its
 * whole lifetime reappears in its reaper's cutime/cstime (in "other": when an ffmpeg restarts
 * in the window, ffmpeg's share can read low and "other" high, the total stays right).
 */
export function cpuBetween(a: TreeSnapshot, b: TreeSnapshot): CpuSplit {
  const seconds = Math.max(b.at - a.at, 1 / HZ);
  const sums = (s: TreeSnapshot) => {
    const t = { root: 0, rootSystem: 0, ffmpeg: 0, other: 0 };
    for (const p of s.procs.values()) {
      t[p.part] += p.ticks;
      if (p.part === 'root') t.rootSystem += p.systemTicks;
      t.other += p.childTicks;
    }
    return t;
  };
  const [ta, tb] = [sums(a), sums(b)];
  const pct = (t: number) => (t / HZ / seconds) * 100;
  const root = tb.root - ta.root;
  const ffmpeg = tb.ffmpeg - ta.ffmpeg;
  const other = tb.other - ta.other;
  return {
    total: pct(root + ffmpeg + other),
    root: pct(root),
    rootSystem: pct(tb.rootSystem - ta.rootSystem),
    ffmpeg: pct(ffmpeg),
    other: pct(other),
  };
}

export interface RssSplit {
  total: number;
  root: number;
  ffmpeg: number;
  other: number;
  /**
   * Proportional set size of the tree (smaps_rollup `Pss`): a page shared by n processes counts
   * 1/n in each, so four ffmpegs mapping the same libraries count them about once. Closer to
   * what the tree really takes from the host's memory than the plain RSS sum.
   */
  pss: number;
  /** The same by part: the root alone, and its ffmpeg children. */
  pssRoot: number;
  pssFfmpeg: number;
  /** Live processes in the tree, root included. */
  processes: number;
}

/** A `Key:   123 kB` line of a /proc file, in bytes; NaN when absent. */
const kB = (text: string, key: string) =>
  Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]) * 1024;

/** Resident memory (bytes, /proc/<pid>/statm) of the tree now, shared pages counted in each process. */
export async function rssNow(rootPid: number): Promise<RssSplit> {
  const procs = tree(await allStats(), rootPid);
  const out: RssSplit = {
    total: 0,
    root: 0,
    ffmpeg: 0,
    other: 0,
    pss: 0,
    pssRoot: 0,
    pssFfmpeg: 0,
    processes: procs.length,
  };
  await Promise.all(
    procs.map(async (s) => {
      const [statm, rollup] = await Promise.all([
        read(`/proc/${s.pid}/statm`),
        read(`/proc/${s.pid}/smaps_rollup`),
      ]);
      const pages = Number(statm.split(' ')[1]);
      if (!Number.isFinite(pages)) return;
      const part = partOf(s, rootPid);
      out[part] += pages * PAGE;
      out.total += pages * PAGE;
      const pss = kB(rollup, 'Pss');
      if (!Number.isFinite(pss)) return;
      out.pss += pss;
      if (part === 'root') out.pssRoot += pss;
      if (part === 'ffmpeg') out.pssFfmpeg += pss;
    }),
  );
  return out;
}

/** A process by pid and start time, so a pid reused by another process is never mistaken for it. */
export interface ProcessId {
  pid: number;
  startTicks: number;
}

/** The live processes of the tree below the root (not the root). */
export async function descendants(rootPid: number): Promise<ProcessId[]> {
  return tree(await allStats(), rootPid)
    .slice(1)
    .map((s) => ({ pid: s.pid, startTicks: s.startTicks }));
}

/** SIGKILLs those of `procs` still alive (same pid and start time); returns how many. */
export async function killSurvivors(procs: ProcessId[]): Promise<number> {
  let killed = 0;
  for (const p of procs) {
    const now = parseStat(await read(`/proc/${p.pid}/stat`));
    if (!now || now.startTicks !== p.startTicks) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

/** Busy share of the whole host (% of all cores) between two readings of /proc/stat. */
export async function hostTicks(): Promise<{ busy: number; total: number }> {
  const line = (await read('/proc/stat')).split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}
