/**
 * The storage gateway as the benchmarks run it: the NAS it moves to (a bind mount that can be
 * taken away), the gateway process on one database and that NAS (several may share both, each
 * with its own buffer and port), its NAS mover's counters and health, nodes enrolled with upload
 * tokens for their cameras, and the CPU of the gateways, the bench process and the box.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { cpus, freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { enrolTestNodeFully, registerTestCameras } from '../../test/support/enrol.ts';
import { type CpuSplit, cpuBetween, snapshot, type TreeSnapshot } from '../proc-tree.ts';
import { type BenchTls, type Cleanups, type Service, startGatewayService } from '../support.ts';

const MB = 1e6;
const run = promisify(execFile);

// --- host CPU (/proc/stat), % of one core -------------------------------------------------

export interface HostTicks {
  busy: number;
  iowait: number;
  total: number;
}
export async function hostTicks(): Promise<HostTicks> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busy, iowait: iowait ?? 0, total: busy + (idle ?? 0) + (iowait ?? 0) };
}
export const hostBetween = (a: HostTicks, b: HostTicks) => {
  const cores = cpus().length;
  const span = Math.max(1, b.total - a.total);
  return {
    busy: ((b.busy - a.busy) / span) * cores * 100,
    iowait: ((b.iowait - a.iowait) / span) * cores * 100,
  };
};

/**
 * CPU of the gateway trees (summed; `perGateway` each), the bench process (uploaders),
 * PostgreSQL and the rest of the box.
 */
export interface CpuWindow {
  gateway: number;
  perGateway: number[];
  gatewayMain: number;
  gatewayKernel: number;
  nasWorker: number;
  client: number;
  postgres: number;
  elsewhere: number;
  host: number;
  iowait: number;
}
export async function cpuWindow(gatewayPids: number[]): Promise<() => Promise<CpuWindow>> {
  const gws0 = await Promise.all(gatewayPids.map((pid) => snapshot(pid)));
  const [bench0, host0] = [await snapshot(process.pid), await hostTicks()];
  return async () => {
    const gws = await Promise.all(
      gatewayPids.map(async (pid, i) => cpuBetween(gws0[i] as TreeSnapshot, await snapshot(pid))),
    );
    const [bench, host] = [
      cpuBetween(bench0, await snapshot(process.pid)),
      hostBetween(host0, await hostTicks()),
    ];
    const sum = (k: keyof CpuSplit) => gws.reduce((a, g) => a + g[k], 0);
    return {
      gateway: sum('total'),
      perGateway: gws.map((g) => g.total),
      gatewayMain: sum('root'),
      gatewayKernel: sum('rootSystem'),
      nasWorker: sum('other'),
      client: bench.root,
      // The bench's children are PostgreSQL and the gateway trees.
      postgres: Math.max(0, bench.other + bench.ffmpeg - sum('total')),
      elsewhere: Math.max(0, host.busy - bench.total),
      host: host.busy,
      iowait: host.iowait,
    };
  };
}

// --- the NAS: bind mount of a tmpfs or a disk directory; a plain directory without mounts -----

export interface Nas {
  /** What the gateway sees as the NAS (GATEWAY_NAS_DIR). */
  path: string;
  /** Where the files really are (watched with inotify; the same inodes as under `path`). */
  store: string;
  how: string;
  mounts: boolean;
  down(): Promise<void>;
  up(): Promise<void>;
}

const sh = (cmd: string, args: string[]) => run(cmd, args, { timeout: 30_000 });

export async function mountedUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))))
    .filter((p) => p === prefix || p.startsWith(`${prefix}/`));
}

/**
 * A temp dir under the system's, removed at the end unless something is still mounted below it
 * (removing it then would reach into the mount).
 */
export async function benchTempDir(cleanups: Cleanups, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.add('remove temp dir', async () => {
    const left = await mountedUnder(dir);
    if (left.length > 0) return console.error(`left ${dir} in place: still mounted ${left.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * The NAS under `dir`: a bind mount of a tmpfs (`tmpfs`) or of a directory on the buffer's disk
 * (`disk`), so an outage is an unmount; without the right to mount, a plain directory renamed
 * away for the outage.
 */
export async function makeNas(
  cleanups: Cleanups,
  dir: string,
  kind: 'tmpfs' | 'disk',
  log: (line: string) => void,
): Promise<Nas> {
  const store = join(dir, 'nas-store');
  const path = join(dir, 'nas');
  await mkdir(store, { recursive: true });
  await mkdir(path, { recursive: true });
  let backing = 'a directory on the buffer disk';
  if (kind === 'tmpfs') {
    // Room for what the run writes at most (the drain phase keeps everything); tmpfs only
    // takes memory for what is in it.
    const size = Math.floor(Math.min(freemem() * 0.6, 16 * 1024 ** 3));
    try {
      await sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', store]);
      cleanups.add('unmount NAS tmpfs', () => sh('umount', ['-l', store]));
      backing = `tmpfs (${(size / 1024 ** 3).toFixed(1)} GiB max)`;
    } catch (err) {
      log(`cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}): NAS on the buffer disk`);
    }
  }
  try {
    await sh('mount', ['--bind', store, path]);
    let mounted = true;
    cleanups.add('unmount NAS bind', () => (mounted ? sh('umount', ['-l', path]) : undefined));
    return {
      path,
      store,
      how: `bind mount of ${backing}, GATEWAY_NAS_REQUIRE_MOUNT=true; outage = umount`,
      mounts: true,
      async down() {
        await sh('umount', ['-l', path]);
        mounted = false;
      },
      async up() {
        await sh('mount', ['--bind', store, path]);
        mounted = true;
      },
    };
  } catch (err) {
    log(`cannot bind-mount (${(err as Error).message.split('\n')[0]}): the outage renames the NAS away`);
    await rm(path, { recursive: true, force: true });
    const away = join(dir, 'nas-away');
    return {
      path: store,
      store,
      how: `plain directory (${backing}); outage = renamed away (moves fail as unreachable)`,
      mounts: false,
      down: () => rename(store, away),
      up: () => rename(away, store),
    };
  }
}

// --- the gateway process ------------------------------------------------------------------

export interface RunningGateway {
  svc: Service;
  url: string;
  bufferDir: string;
}

export interface GatewayOptions {
  /** Its data and buffer go to `<dir>/gw-<tag>`. */
  dir: string;
  tag: string;
  dbUrl: string;
  nas: Nas;
  /** HTTPS with the benchmarks' certificate; null: plain HTTP. */
  tls: BenchTls | null;
  auth: 'token' | 'off';
  nasParallel: number;
  /** UV_THREADPOOL_SIZE, when given. */
  threadpool?: string;
  /** Node options of the gateway process (a CPU profile, GC tracing). */
  nodeArgs?: string[];
}

/** A gateway process (upload auth as asked, LOG_LEVEL=warn, retention kept off); resolves once it answers. */
export async function startBenchGateway(cleanups: Cleanups, g: GatewayOptions): Promise<RunningGateway> {
  const dataDir = join(g.dir, `gw-${g.tag}`);
  const bufferDir = join(dataDir, 'buffer');
  const env: Record<string, string> = {
    DATABASE_URL: g.dbUrl,
    GATEWAY_DATA_DIR: dataDir,
    GATEWAY_BUFFER_DIR: bufferDir,
    GATEWAY_NAS_DIR: g.nas.path,
    GATEWAY_NAS_REQUIRE_MOUNT: g.nas.mounts ? 'true' : 'false',
    GATEWAY_UPLOAD_AUTH: g.auth,
    GATEWAY_NAS_PARALLEL: String(g.nasParallel),
    // Retention would not delete anything of this run; the watermark is off so it never can.
    GATEWAY_NAS_MIN_FREE_PERCENT: '0',
    GATEWAY_RETENTION_INTERVAL_S: '86400',
    LOG_LEVEL: 'warn',
  };
  if (g.threadpool) env.UV_THREADPOOL_SIZE = g.threadpool;
  const { svc, url } = await startGatewayService(cleanups, `gateway-${g.tag}`, env, g.tls, g.nodeArgs);
  return { svc, url, bufferDir };
}

/**
 * Enrols each node (its upload token) and registers its cameras to it as the master does on a
 * hello: uploads are taken only from a camera's owner. Returns the token of each node.
 */
export async function enrolCameraOwners(
  dbUrl: string,
  owned: Map<string, string[]>,
): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (const [node, cameras] of owned) {
    tokens.set(node, (await enrolTestNodeFully(dbUrl, node)).uploadToken);
    await registerTestCameras(dbUrl, node, cameras);
  }
  return tokens;
}

// --- its metrics and health ---------------------------------------------------------------

/** The sum of every sample of a metric (all label sets) in Prometheus text. */
export function metricSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
}

/**
 * The NAS mover's counters (moves, verified bytes, time its worker spent copying) and the
 * gateway's event-loop delay since the previous scrape (prom-client resets it on each one).
 */
export interface MoverCounters {
  moves: number;
  bytes: number;
  copySeconds: number;
  loopP99Ms: number;
  loopMaxMs: number;
}
export const moverMetrics = async (url: string): Promise<MoverCounters> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    moves: metricSum(text, 'cctv_gateway_nas_moves_total'),
    bytes: metricSum(text, 'cctv_gateway_nas_verified_bytes_total'),
    copySeconds: metricSum(text, 'cctv_gateway_nas_write_seconds_sum'),
    loopP99Ms: metricSum(text, 'cctv_gateway_nodejs_eventloop_lag_p99_seconds') * 1000,
    loopMaxMs: metricSum(text, 'cctv_gateway_nodejs_eventloop_lag_max_seconds') * 1000,
  };
};
export interface MoverWindow {
  mbPerS: number;
  movesPerS: number;
  /** Wall time per move (the mover moves one segment at a time). */
  cycleMs: number;
  /** Of it, the NAS worker's copy (open, copy, fsync, rename, dir fsync, read back). */
  copyMs: number;
  /** The gateway's event-loop delay over the window (p99, max). */
  loopP99Ms: number;
  loopMaxMs: number;
}
export function moverBetween(a: MoverCounters, b: MoverCounters, seconds: number): MoverWindow {
  const moves = b.moves - a.moves;
  return {
    mbPerS: (b.bytes - a.bytes) / MB / seconds,
    movesPerS: moves / seconds,
    cycleMs: moves > 0 ? (seconds * 1000) / moves : Number.NaN,
    copyMs: moves > 0 ? ((b.copySeconds - a.copySeconds) * 1000) / moves : Number.NaN,
    loopP99Ms: b.loopP99Ms,
    loopMaxMs: b.loopMaxMs,
  };
}

export interface Health {
  backlog: number;
  nas: string;
  nasFailure: string | null;
  bufferBytes: number;
}
export const health = async (url: string) => (await (await fetch(`${url}/healthz`)).json()) as Health;
