/**
 * CPU time of one ffmpeg run, for the encode watch: the process's own ticks (every thread) and
 * those of its direct children, so a shell pipeline (the Pi camera tool piped into ffmpeg)
 * counts its ffmpeg too. Read from /proc; null where the process is gone or /proc is absent.
 */
import { readFile } from 'node:fs/promises';
import { parsePidStat, USER_HZ } from '../host/proc-files.ts';

async function ticksOf(procRoot: string, pid: number): Promise<number | null> {
  const stat = parsePidStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8').catch(() => ''));
  return stat ? stat.ticks + stat.childTicks : null;
}

/** Seconds of CPU the process and its direct children have used so far. */
export async function runCpuSeconds(pid: number, procRoot = '/proc'): Promise<number | null> {
  const own = await ticksOf(procRoot, pid);
  if (own === null) return null;
  const children = await readFile(`${procRoot}/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  let ticks = own;
  for (const child of children.split(/\s+/).filter(Boolean))
    ticks += (await ticksOf(procRoot, Number(child))) ?? 0;
  return ticks / USER_HZ;
}
