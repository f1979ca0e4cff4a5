/** SoC temperature and spool disk space; the CPU, memory and process figures are in host-sampler.ts. */
import { readdir, readFile, statfs } from 'node:fs/promises';

/**
 * SoC temperature in °C from the kernel's thermal zones: the zone whose type names the CPU/SoC
 * (Pi: cpu-thermal; x86: x86_pkg_temp), else the first readable one; null when there is none.
 */
export async function socTemperature(root = '/sys/class/thermal'): Promise<number | null> {
  return (await socThermalZone(root))?.celsius ?? null;
}

/** As socTemperature, with the zone's type (`cpu-thermal`, `x86_pkg_temp`, …; empty when unnamed). */
export async function socThermalZone(
  root = '/sys/class/thermal',
): Promise<{ celsius: number; type: string } | null> {
  let zones: string[];
  try {
    zones = (await readdir(root)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return null;
  }
  let fallback: { celsius: number; type: string } | null = null;
  for (const zone of zones) {
    try {
      const milli = Number((await readFile(`${root}/${zone}/temp`, 'utf8')).trim());
      if (!Number.isFinite(milli)) continue;
      const celsius = Math.round(milli / 100) / 10;
      const type = (await readFile(`${root}/${zone}/type`, 'utf8').catch(() => '')).trim();
      if (/cpu|soc|pkg/i.test(type)) return { celsius, type };
      fallback ??= { celsius, type };
    } catch {
      // unreadable zone
    }
  }
  return fallback;
}

/** Free bytes (for unprivileged writers) and size of the spool's file system; zeros when unreadable. */
export async function diskSpace(dir: string): Promise<{ freeBytes: number; totalBytes: number }> {
  try {
    const s = await statfs(dir);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return { freeBytes: 0, totalBytes: 0 };
  }
}
