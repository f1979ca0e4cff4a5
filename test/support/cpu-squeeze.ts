/**
 * A CPU-starved cgroup for one process: a test moves a running process (an agent's ffmpeg)
 * into it to make it too slow for real time, as a host too small for the work would. cgroup v2
 * (`cpu.max`) where the cpu controller can be enabled, else the v1 cpu controller
 * (`cpu.cfs_quota_us`). Needs root; `unavailable()` says why it cannot run here.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onCleanup } from './index.ts';

interface Hierarchy {
  kind: 'v2' | 'v1';
  root: string;
}

const V2_ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
const V1_ROOTS = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'];

async function hierarchy(): Promise<Hierarchy | string> {
  if (process.getuid?.() !== 0) return 'squeezing a process into a cgroup needs root';
  for (const root of V2_ROOTS) {
    const controllers = await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(() => '');
    if (!controllers.split(/\s+/).includes('cpu')) continue;
    const enabled = await readFile(join(root, 'cgroup.subtree_control'), 'utf8').catch(() => '');
    if (enabled.split(/\s+/).includes('cpu')) return { kind: 'v2', root };
    const ok = await writeFile(join(root, 'cgroup.subtree_control'), '+cpu').then(
      () => true,
      () => false,
    );
    if (ok) return { kind: 'v2', root };
  }
  for (const root of V1_ROOTS) if (existsSync(join(root, 'cpu.cfs_quota_us'))) return { kind: 'v1', root };
  return 'no cgroup hierarchy with a usable cpu controller (v2 cpu.max or v1 cpu.cfs_quota_us)';
}

/** Why no squeeze is possible here, or null when it is. */
export async function squeezeUnavailable(): Promise<string | null> {
  const h = await hierarchy();
  return typeof h === 'string' ? h : null;
}

export interface CpuSqueeze {
  /** `v2 cpu.max` or `v1 cpu.cfs_quota_us`, for the test's report. */
  readonly kind: string;
  /** Moves the process (every thread) into the starved cgroup. */
  add(pid: number): Promise<void>;
}

/**
 * A cgroup allowed `percentOfCore` of one core, removed after the test file (its processes
 * moved back to the root first, should any still run).
 */
export async function cpuSqueeze(name: string, percentOfCore: number): Promise<CpuSqueeze> {
  const h = await hierarchy();
  if (typeof h === 'string') throw new Error(h);
  const dir = join(h.root, `${name}-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const period = 100_000;
  const quota = Math.max(1000, Math.round((period * percentOfCore) / 100));
  if (h.kind === 'v2') await writeFile(join(dir, 'cpu.max'), `${quota} ${period}`);
  else {
    await writeFile(join(dir, 'cpu.cfs_period_us'), String(period));
    await writeFile(join(dir, 'cpu.cfs_quota_us'), String(quota));
  }
  onCleanup(async () => {
    const left = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of left.split(/\s+/).filter(Boolean))
      await writeFile(join(h.root, 'cgroup.procs'), pid).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  });
  return {
    kind: h.kind === 'v2' ? 'v2 cpu.max' : 'v1 cpu.cfs_quota_us',
    add: (pid) => writeFile(join(dir, 'cgroup.procs'), String(pid)),
  };
}
