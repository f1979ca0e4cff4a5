/**
 * Host CPU use from /proc/stat: percent of the WHOLE host (100 = every core busy) over the
 * interval since the previous reading; the first reading covers the time since boot.
 */
import { readFile } from 'node:fs/promises';
import { type CpuTimes, parseCpuTimes } from './proc-files.ts';

export class HostCpuSampler {
  private prev: CpuTimes = { idle: 0, total: 0 };

  constructor(private readonly procRoot = '/proc') {}

  async sample(): Promise<number> {
    const times = parseCpuTimes(await readFile(`${this.procRoot}/stat`, 'utf8').catch(() => ''));
    return times ? this.next(times) : 0;
  }

  /** The busy share between the previous times and these. */
  next(times: CpuTimes): number {
    const total = times.total - this.prev.total;
    const idle = times.idle - this.prev.idle;
    this.prev = times;
    if (total <= 0) return 0;
    return Math.min(100, Math.max(0, ((total - idle) / total) * 100));
  }
}
