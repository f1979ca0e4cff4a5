/**
 * What one ffmpeg run asked of the CPU, for the encode watch: its CPU time from
 * `/proc/<pid>/stat` (every thread, those gone included) and its time runnable but waiting for
 * a CPU from each thread's `/proc/<pid>/task/<tid>/schedstat`, over the process and its direct
 * children, so a shell pipeline (the Pi camera tool piped into ffmpeg) counts its ffmpeg too.
 * The waiting time tells a starved encode (a busy host, a CPU quota) from one whose camera went
 * quiet: the first waits to run, the second sleeps.
 */
import { readdir, readFile } from 'node:fs/promises';
import { parsePidStat, USER_HZ } from '../host/proc-files.ts';

export interface RunCpu {
  /** Seconds on a CPU, every thread. */
  cpuS: number;
  /**
   * Seconds runnable but waiting for a CPU, summed over the live threads (a thread that ends
   * takes its share with it); null where the kernel keeps no schedstat.
   */
  waitS: number | null;
}

async function waitOf(procRoot: string, pid: number): Promise<number | null> {
  const tids = await readdir(`${procRoot}/${pid}/task`).catch(() => [] as string[]);
  let total: number | null = null;
  for (const tid of tids) {
    const text = await readFile(`${procRoot}/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '');
    const waiting = Number(text.trim().split(/\s+/)[1]);
    if (text && Number.isFinite(waiting)) total = (total ?? 0) + waiting / 1e9;
  }
  return total;
}

async function timesOf(procRoot: string, pid: number): Promise<RunCpu | null> {
  const stat = parsePidStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8').catch(() => ''));
  if (!stat) return null;
  return { cpuS: (stat.ticks + stat.childTicks) / USER_HZ, waitS: await waitOf(procRoot, pid) };
}

/** CPU and wait time of the process and its direct children so far; null once it is gone. */
export async function runCpu(pid: number, procRoot = '/proc'): Promise<RunCpu | null> {
  const own = await timesOf(procRoot, pid);
  if (!own) return null;
  const children = await readFile(`${procRoot}/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  for (const child of children.split(/\s+/).filter(Boolean)) {
    const c = await timesOf(procRoot, Number(child));
    if (!c) continue;
    own.cpuS += c.cpuS;
    own.waitS = own.waitS === null || c.waitS === null ? own.waitS : own.waitS + c.waitS;
  }
  return own;
}
