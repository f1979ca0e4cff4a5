/**
 * One reading of every host figure, shared by heartbeats and /metrics. CPU figures are deltas
 * since the previous reading, so two readers calling in turn must not each take their own
 * tiny interval: a reading is reused for `minIntervalMs`, and calls that arrive while one is
 * being taken wait for it.
 */
import { readFile } from 'node:fs/promises';
import { freemem, loadavg, totalmem, uptime } from 'node:os';
import { spoolUsedBytes } from '../spool/scan.ts';
import { HostCpuSampler } from './host-cpu.ts';
import { parseLoadavg, parseMeminfo, parseUptime } from './proc-files.ts';
import { type ProcessTreeSample, ProcessTreeSampler } from './process-tree.ts';
import { diskSpace, socThermalZone } from './system-stats.ts';

export interface HostSample extends ProcessTreeSample {
  /** The `now()` clock (ms) when taken. */
  takenAt: number;
  host: {
    /** Percent of the whole host: 100 = every core busy. */
    cpuPercent: number;
    load1: number;
    load5: number;
    load15: number;
    memTotalBytes: number;
    memFreeBytes: number;
    memAvailableBytes: number;
    uptimeS: number;
  };
  /** SoC temperature in °C; null when the host has no readable thermal zone. */
  tempC: number | null;
  /** The thermal zone's type (`cpu-thermal`, `x86_pkg_temp`); null with tempC. */
  thermalZone: string | null;
  disk: { spoolFreeBytes: number; spoolTotalBytes: number; spoolUsedBytes: number };
}

export interface HostSamplerOptions {
  spoolDir: string;
  /** Where procfs is mounted; a fake tree in tests. */
  procRoot?: string;
  thermalRoot?: string;
  /** Root of the process tree; the agent's own pid by default. */
  pid?: number;
  /** A reading younger than this is returned again instead of taking a new one. */
  minIntervalMs?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  ticksPerS?: number;
  /** Bytes in the spool; a full scan of the folder by default (the agent passes a cheaper count). */
  spoolUsedBytes?: () => Promise<number>;
}

export class HostSampler {
  private readonly procRoot: string;
  private readonly processes: ProcessTreeSampler;
  private readonly cpu: HostCpuSampler;
  private readonly now: () => number;
  private last: HostSample | null = null;
  private pending: Promise<HostSample> | null = null;

  constructor(private readonly opts: HostSamplerOptions) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.processes = new ProcessTreeSampler({
      procRoot: this.procRoot,
      pid: opts.pid,
      ticksPerS: opts.ticksPerS,
    });
    this.cpu = new HostCpuSampler(this.procRoot);
    this.now = opts.now ?? (() => performance.now());
  }

  /** The latest reading, taken now unless the previous one is younger than `minIntervalMs`. */
  sample(): Promise<HostSample> {
    if (this.pending) return this.pending;
    const at = this.now();
    if (this.last && at - this.last.takenAt < (this.opts.minIntervalMs ?? 1000))
      return Promise.resolve(this.last);
    const pending = this.take(at).finally(() => {
      this.pending = null;
    });
    this.pending = pending;
    return pending;
  }

  /** The latest reading without taking one; null before the first. */
  get latest(): HostSample | null {
    return this.last;
  }

  private async take(takenAt: number): Promise<HostSample> {
    const [uptimeText, meminfoText, loadText] = await Promise.all(
      ['uptime', 'meminfo', 'loadavg'].map((f) => readFile(`${this.procRoot}/${f}`, 'utf8').catch(() => '')),
    );
    const uptimeS = parseUptime(uptimeText ?? '') ?? uptime();
    const [processes, cpuPercent, thermal, space, used] = await Promise.all([
      this.processes.sample(uptimeS),
      this.cpu.sample(),
      socThermalZone(this.opts.thermalRoot),
      diskSpace(this.opts.spoolDir),
      this.opts.spoolUsedBytes ? this.opts.spoolUsedBytes() : spoolUsedBytes(this.opts.spoolDir),
    ]);
    const mem = parseMeminfo(meminfoText ?? '');
    const [os1 = 0, os5 = 0, os15 = 0] = loadavg();
    const load = loadText ? parseLoadavg(loadText) : { load1: os1, load5: os5, load15: os15 };
    const sample: HostSample = {
      ...processes,
      takenAt,
      host: {
        cpuPercent,
        ...load,
        // Where /proc/meminfo cannot be read (not Linux), the OS figures stand in.
        memTotalBytes: mem.totalBytes || totalmem(),
        memFreeBytes: mem.totalBytes ? mem.freeBytes : freemem(),
        memAvailableBytes: mem.totalBytes ? mem.availableBytes : freemem(),
        uptimeS,
      },
      tempC: thermal?.celsius ?? null,
      thermalZone: thermal ? thermal.type || 'unknown' : null,
      disk: { spoolFreeBytes: space.freeBytes, spoolTotalBytes: space.totalBytes, spoolUsedBytes: used },
    };
    this.last = sample;
    return sample;
  }
}
