/** Host figures for heartbeats: CPU, memory, SoC temperature, spool disk. */
import { readdir, readFile, statfs } from 'node:fs/promises';
import { freemem, loadavg, totalmem } from 'node:os';

export interface CpuSample {
  percent: number;
  load1: number;
}

/** Process CPU % since the previous call (100 = one core fully busy). */
export function cpuSampler(now: () => number = () => performance.now()): () => CpuSample {
  let lastUsage = process.cpuUsage();
  let lastAt = now();
  return () => {
    const usage = process.cpuUsage();
    const at = now();
    const cpuMicros = usage.user - lastUsage.user + (usage.system - lastUsage.system);
    const wallMs = at - lastAt;
    lastUsage = usage;
    lastAt = at;
    const percent = wallMs > 0 ? Math.max(0, (cpuMicros / 1000 / wallMs) * 100) : 0;
    return { percent: Math.round(percent * 10) / 10, load1: Math.max(0, loadavg()[0] ?? 0) };
  };
}

export function memory(): { rssBytes: number; totalBytes: number; freeBytes: number } {
  return { rssBytes: process.memoryUsage.rss(), totalBytes: totalmem(), freeBytes: freemem() };
}

/**
 * SoC temperature in °C from the kernel's thermal zones: the zone whose type names the CPU/SoC
 * (Pi: cpu-thermal; x86: x86_pkg_temp), else the first readable one; null when there is none.
 */
export async function socTemperature(root = '/sys/class/thermal'): Promise<number | null> {
  let zones: string[];
  try {
    zones = (await readdir(root)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return null;
  }
  let fallback: number | null = null;
  for (const zone of zones) {
    try {
      const milli = Number((await readFile(`${root}/${zone}/temp`, 'utf8')).trim());
      if (!Number.isFinite(milli)) continue;
      const celsius = Math.round(milli / 100) / 10;
      const type = (await readFile(`${root}/${zone}/type`, 'utf8').catch(() => '')).trim();
      if (/cpu|soc|pkg/i.test(type)) return celsius;
      fallback ??= celsius;
    } catch {
      // unreadable zone
    }
  }
  return fallback;
}

/** Free bytes (for unprivileged writers) on the spool's file system. */
export async function diskFree(dir: string): Promise<number> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}
