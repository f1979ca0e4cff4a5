/**
 * The storage gateway against this disk (TARGETS.md, "Storage gateway"):
 *   1. fsync'd write bandwidth of the disk the buffer is on, measured in the same run: files of
 *      the segment size written, fsynced, renamed into a per-camera directory and that directory
 *      fsynced (what the gateway does per upload), by as many threads as there are uploaders;
 *   2. ingest throughput: N agent-like uploaders (one camera each, one PUT at a time, no pause)
 *      against the real gateway process (embedded PostgreSQL, buffer on the same disk as 1);
 *      acknowledged MB/s, segments/s, PUT latency, gateway CPU, ratio to 1, and what the NAS
 *      mover moved meanwhile; then (2b) the target's load itself, --camera-load cameras paced in
 *      real time (200 × 4 Mb/s by default): acknowledged in time? does the mover keep up?
 *   3. backlog drain after a NAS outage: a camera load (20 × 4 Mb/s by default, paced in real
 *      time) records while the NAS is unmounted for --outage-s, then the NAS comes back; how
 *      fast the backlog drains (recorded seconds per wall second), in recording order (watched
 *      with inotify), while the load keeps recording; every acknowledged segment checked by
 *      sha256 on the NAS at the end.
 *
 *   node --import tsx bench/gateway-storage.ts [--uploaders 1,8,32] [--segment-bytes 1048576]
 *       [--seconds 8] [--warmup-s 3] [--camera-load 200] [--outage-s 60] [--cameras 20] [--segment-s 2]
 *       [--nas tmpfs|disk] [--auth token|off] [--tls on|off] [--only ingest|drain]
 *       [--gateway-threadpool N] [--gateway-cpu-prof DIR] [--gateway-node-args="--flag …"]
 *       [--gateway-output DIR]   (each gateway's last output, e.g. with --gateway-node-args=--trace-gc)
 *
 * The NAS is a bind mount (of a tmpfs by default, `--nas disk`: of a directory on the buffer's
 * disk) and the gateway runs with GATEWAY_NAS_REQUIRE_MOUNT=true, so the outage is an unmount.
 * Without the right to mount, the NAS is a plain directory renamed away for the outage.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createPrismaClient } from '@cctv/db';
import {
  benchTempDir,
  type CpuWindow,
  cpuWindow,
  enrolCameraOwners,
  health,
  type MoverWindow,
  makeNas,
  moverBetween,
  moverMetrics,
  type Nas,
  type RunningGateway,
  startBenchGateway,
} from './support/gateway.ts';
import {
  type Acked,
  type Body,
  type IngestWindow,
  ingestWindow,
  makeBodies,
  mergeRefused,
  startUploader,
  type UploaderRun,
} from './support/uploader.ts';
import {
  type BenchTls,
  type Cleanups,
  pct,
  runBench,
  sleep,
  startDatabase,
  waitFor,
  writeBenchJson,
} from './support.ts';

/** GATEWAY_NAS_PARALLEL of the gateway under test (its default). */
const NAS_PARALLEL = 16;

const { values: o } = parseArgs({
  options: {
    uploaders: { type: 'string', default: '1,8,32' },
    'segment-bytes': { type: 'string', default: String(1024 * 1024) },
    seconds: { type: 'string', default: '8' },
    'warmup-s': { type: 'string', default: '3' },
    'outage-s': { type: 'string', default: '60' },
    'camera-load': { type: 'string', default: '200' },
    cameras: { type: 'string', default: '20' },
    'segment-s': { type: 'string', default: '2' },
    nas: { type: 'string', default: 'tmpfs' },
    auth: { type: 'string', default: 'token' },
    tls: { type: 'string', default: 'on' },
    only: { type: 'string' },
    'gateway-threadpool': { type: 'string' },
    'gateway-cpu-prof': { type: 'string' },
    'gateway-node-args': { type: 'string' },
    'gateway-output': { type: 'string' },
  },
});
const UPLOADERS = o.uploaders
  .split(',')
  .filter(Boolean)
  .map((n) => Number(n));
const BYTES = Number(o['segment-bytes']);
const SECONDS = Number(o.seconds);
const WARMUP_S = Number(o['warmup-s']);
const OUTAGE_S = Number(o['outage-s']);
const CAMERAS = Number(o.cameras);
const CAMERA_LOAD = Number(o['camera-load']);
const SEGMENT_MS = Number(o['segment-s']) * 1000;
const MB = 1e6;
if (o.nas !== 'tmpfs' && o.nas !== 'disk') throw new Error('--nas is tmpfs or disk');
if (o.auth !== 'token' && o.auth !== 'off') throw new Error('--auth is token or off');
if (o.tls !== 'on' && o.tls !== 'off') throw new Error('--tls is on or off');
if (!(BYTES > 0 && SECONDS > 0 && CAMERAS > 0 && SEGMENT_MS > 0) || UPLOADERS.some((n) => !(n > 0)))
  throw new Error('bad numeric option');

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');

// --- 1. fsync'd write bandwidth -----------------------------------------------------------

/** Runs in each worker thread: synchronous I/O, so N threads really have N files in flight. */
const DISK_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { dir, id, bytes, startAt, untilAt } = workerData;
const body = require('node:crypto').randomBytes(bytes);
const camDir = path.join(dir, 'cam-' + id);
fs.mkdirSync(camDir, { recursive: true });
const wait = new Int32Array(new SharedArrayBuffer(4));
while (Date.now() < startAt) Atomics.wait(wait, 0, 0, Math.max(1, startAt - Date.now()));
const done = [];
for (let i = 0; Date.now() < untilAt; i++) {
  const t0 = Date.now();
  const tmp = path.join(dir, '.incoming', id + '-' + i + '.part');
  const fd = fs.openSync(tmp, 'wx', 0o644);
  for (let off = 0; off < bytes; ) off += fs.writeSync(fd, body, off, bytes - off);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, path.join(camDir, 'seg-' + i + '.m4s'));
  const dfd = fs.openSync(camDir, 'r');
  fs.fsyncSync(dfd);
  fs.closeSync(dfd);
  const t1 = Date.now();
  if (t1 <= untilAt) done.push(t1 - t0);
}
parentPort.postMessage(done);
`;

interface DiskResult {
  threads: number;
  mbPerS: number;
  /** CPU (user + kernel) the probe spent per MB written: the disk path's own cost. */
  cpuMsPerMb: number;
  filesPerS: number;
  p50Ms: number;
  p99Ms: number;
}

async function diskBandwidth(dir: string, threads: number): Promise<DiskResult> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, '.incoming'), { recursive: true });
  const startAt = Date.now() + 500;
  const untilAt = startAt + SECONDS * 1000;
  const cpu0 = process.cpuUsage();
  const results = await Promise.all(
    Array.from(
      { length: threads },
      (_, id) =>
        new Promise<number[]>((resolve, reject) => {
          const w = new Worker(DISK_WORKER, {
            eval: true,
            workerData: { dir, id, bytes: BYTES, startAt, untilAt },
          });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  // The bench process does nothing else meanwhile: its CPU is the probe's (the workers' start
  // and their last file included, a slight overstatement).
  const cpu = process.cpuUsage(cpu0);
  await rm(dir, { recursive: true, force: true });
  const lat = results.flat();
  return {
    threads,
    mbPerS: (lat.length * BYTES) / MB / SECONDS,
    cpuMsPerMb: (cpu.user + cpu.system) / 1000 / ((lat.length * BYTES) / MB),
    filesPerS: lat.length / SECONDS,
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
  };
}

/**
 * The CPU no gateway can avoid per MB, measured here: sha256 twice (the upload checked as it
 * arrives, the NAS copy read back) and TLS's AES-256-GCM decryption, one core, 64 MiB each.
 * Added to the disk probe's own CPU per MB, it is the floor the gateway's CPU is compared to.
 */
function cryptoFloorMsPerMb(): { sha256: number; aesGcm: number } {
  const data = randomBytes(64 * 1024 * 1024);
  const mb = data.length / MB;
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const enc = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([enc.update(data), enc.final()]);
  const tag = enc.getAuthTag();
  // The best of three passes each: the floor, not this VM's noise.
  let sha = Number.POSITIVE_INFINITY;
  let aes = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 3; pass++) {
    let t = performance.now();
    createHash('sha256').update(data).digest();
    sha = Math.min(sha, (performance.now() - t) / mb);
    // In TLS records' size, a Buffer per record, as TLS hands them over.
    const dec = createDecipheriv('aes-256-gcm', key, iv);
    dec.setAuthTag(tag);
    t = performance.now();
    for (let at = 0; at < sealed.length; at += 16 * 1024) dec.update(sealed.subarray(at, at + 16 * 1024));
    dec.final();
    aes = Math.min(aes, (performance.now() - t) / mb);
  }
  return { sha256: sha, aesGcm: aes };
}

// --- the gateway process ------------------------------------------------------------------

/** A gateway for one measurement, as the options ask (profile, thread pool, Node options). */
async function startGateway(cleanups: Cleanups, ctx: Ctx, tag: string): Promise<RunningGateway> {
  const profDir = o['gateway-cpu-prof'];
  return startBenchGateway(cleanups, {
    dir: ctx.dir,
    tag,
    dbUrl: ctx.dbUrl,
    nas: ctx.nas,
    tls: ctx.tls,
    auth: o.auth as 'token' | 'off',
    nasParallel: NAS_PARALLEL,
    ...(o['gateway-threadpool'] ? { threadpool: o['gateway-threadpool'] } : {}),
    nodeArgs: [
      ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      ...(o['gateway-node-args']?.split(' ').filter(Boolean) ?? []),
    ],
  });
}

/** Stops a gateway, keeping its output first when --gateway-output asks for it. */
async function stopGateway(gw: RunningGateway, tag: string): Promise<void> {
  const dir = o['gateway-output'];
  if (dir) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `gateway-${tag}.log`), gw.svc.output());
  }
  await gw.svc.stop();
}

// --- 2. ingest throughput -----------------------------------------------------------------

interface IngestResult {
  uploaders: number;
  disk: DiskResult;
  mbPerS: number;
  segmentsPerS: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  refused: string;
  nasMovedMbPerS: number;
  mover: MoverWindow;
  backlogAtEnd: number;
  cpu: CpuWindow;
  /** Gateway CPU (main process + NAS worker) per acknowledged MB, ms. */
  cpuMsPerMb: number;
  /** The floor: the disk probe's CPU per MB plus sha256 twice and TLS decryption (plain HTTP: none). */
  floorMsPerMb: number;
  /** NAS MB/s over acknowledged MB/s in the window (1: the mover keeps up). */
  nasOfIngest: number;
  ratio: number;
  /** Each target (TARGETS.md, "Storage gateway"): of the disk, CPU per MB, the mover keeping up. */
  met: { disk: boolean; cpu: boolean; nas: boolean };
}

/** Targets on this box: of the disk's fsync'd bandwidth, CPU per MB, NAS of ingest. */
const TARGET_OF_DISK = 0.8;
const TARGET_CPU_MS_PER_MB = 3;
const TARGET_NAS_OF_INGEST = 0.95;

interface Ctx {
  dir: string;
  /** The gateway's certificate; null: plain HTTP (`--tls off`). */
  tls: BenchTls | null;
  dbUrl: string;
  nas: Nas;
  bodies: Body[];
  tokens: Map<string, string>;
  /** Per-MB CPU of the unavoidable crypto (cryptoFloorMsPerMb). */
  crypto: { sha256: number; aesGcm: number };
}

async function ingestRun(cleanups: Cleanups, ctx: Ctx, n: number): Promise<IngestResult> {
  const disk = await diskBandwidth(join(ctx.dir, 'gw-buffer-disk-probe'), n);
  log(
    `  disk, ${n} thread(s): ${f1(disk.mbPerS)} MB/s fsync'd (${f0(disk.filesPerS)} files/s, p50 ${f1(disk.p50Ms)} ms per file, ${f1(disk.cpuMsPerMb)} ms CPU per MB)`,
  );
  const gw = await startGateway(cleanups, ctx, `ingest-${n}`);
  const t0 = performance.now();
  const runs = Array.from({ length: n }, (_, u) =>
    startUploader({
      url: gw.url,
      camera: `ingest-${n}-${u}`,
      node: `bench-node-${u}`,
      token: ctx.tokens.get(`bench-node-${u}`) ?? null,
      bodies: ctx.bodies,
      bodyOffset: u * 7,
      recordStartMs: Date.now() - 3_600_000,
      segmentMs: SEGMENT_MS,
      paceMs: 0,
      t0,
    }),
  );
  await sleep(WARMUP_S * 1000);
  const m0 = await moverMetrics(gw.url);
  const cpuEnd = await cpuWindow([gw.svc.pid]);
  const w0 = performance.now();
  await sleep(SECONDS * 1000);
  const w1 = performance.now();
  const cpu = await cpuEnd();
  const mover = moverBetween(m0, await moverMetrics(gw.url), (w1 - w0) / 1000);
  await Promise.all(runs.map((r) => r.stop()));
  const backlogAtEnd = (await health(gw.url)).backlog;
  await stopGateway(gw, `ingest-${n}`);
  await rm(join(ctx.dir, `gw-ingest-${n}`), { recursive: true, force: true });
  for (let u = 0; u < n; u++)
    await rm(join(ctx.nas.store, `ingest-${n}-${u}`), { recursive: true, force: true });

  const inWindow = runs.flatMap((r) => r.acked).filter((a) => a.ackedAt >= w0 && a.ackedAt < w1);
  const secs = (w1 - w0) / 1000;
  const lat = inWindow.map((a) => a.ackedAt - a.sentAt);
  const mbPerS = (inWindow.length * BYTES) / MB / secs;
  const ratio = mbPerS / disk.mbPerS;
  return {
    uploaders: n,
    disk,
    mbPerS,
    segmentsPerS: inWindow.length / secs,
    p50Ms: pct(lat, 50),
    p95Ms: pct(lat, 95),
    p99Ms: pct(lat, 99),
    refused: mergeRefused(runs),
    nasMovedMbPerS: mover.mbPerS,
    mover,
    backlogAtEnd,
    cpu,
    cpuMsPerMb: (cpu.gateway * 10) / mbPerS,
    floorMsPerMb: disk.cpuMsPerMb + 2 * ctx.crypto.sha256 + (ctx.tls ? ctx.crypto.aesGcm : 0),
    nasOfIngest: mover.mbPerS / mbPerS,
    ratio,
    met: {
      disk: ratio >= TARGET_OF_DISK,
      cpu: (cpu.gateway * 10) / mbPerS <= TARGET_CPU_MS_PER_MB,
      nas: mover.mbPerS >= TARGET_NAS_OF_INGEST * mbPerS,
    },
  };
}

/** Segment periods the camera load runs before it is measured. */
const CAMERA_LOAD_WARMUP_SEGMENTS = 5;

/** Cameras recording in real time: one segment each every SEGMENT_MS, spread over it. */
const CAMERAS_PER_NODE = 4;
function startCameras(url: string, ctx: Ctx, cameras: string[]): UploaderRun[] {
  const t0 = performance.now() + 200;
  const recordStart = Date.now() + 200;
  return cameras.map((camera, c) => {
    const node = `bench-node-${Math.floor(c / CAMERAS_PER_NODE)}`;
    const offset = (c * SEGMENT_MS) / cameras.length;
    return startUploader({
      url,
      camera,
      node,
      token: ctx.tokens.get(node) ?? null,
      bodies: ctx.bodies,
      bodyOffset: c * 11,
      recordStartMs: recordStart + offset,
      segmentMs: SEGMENT_MS,
      paceMs: SEGMENT_MS,
      t0: t0 + offset,
    });
  });
}

// --- 2b. a paced camera load: does the gateway keep up, acknowledging and moving? ----------

interface CameraLoadResult {
  cameras: number;
  offeredMbPerS: number;
  mbPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxLagMs: number;
  refused: string;
  mover: MoverWindow;
  /** Growth of the NAS backlog over the window (segments per second; 0: the mover keeps up). */
  backlogGrowthPerS: number;
  backlogAtEnd: number;
  cpu: CpuWindow;
  cpuMsPerMb: number;
  /** Acknowledged in time, and the backlog did not grow (beyond the moves in flight). */
  met: boolean;
  metBacklog: boolean;
}

async function cameraLoadRun(cleanups: Cleanups, ctx: Ctx, count: number): Promise<CameraLoadResult> {
  const gw = await startGateway(cleanups, ctx, `cameras-${count}`);
  const cameras = Array.from({ length: count }, (_, c) => `load-cam-${c}`);
  const runs = startCameras(gw.url, ctx, cameras);
  const windowS = Math.max(2 * SECONDS, (5 * SEGMENT_MS) / 1000);
  // Steady state, not the first seconds: 200 cameras starting at once on a gateway that has not
  // run yet (cold JIT, 200 handshakes) fall a few seconds behind before it catches up.
  await sleep(Math.max(WARMUP_S * 1000, CAMERA_LOAD_WARMUP_SEGMENTS * SEGMENT_MS));
  const [m0, b0] = [await moverMetrics(gw.url), (await health(gw.url)).backlog];
  const cpuEnd = await cpuWindow([gw.svc.pid]);
  const w0 = performance.now();
  await sleep(windowS * 1000);
  const w1 = performance.now();
  const cpu = await cpuEnd();
  const [m1, b1] = [await moverMetrics(gw.url), (await health(gw.url)).backlog];
  await Promise.all(runs.map((r) => r.stop()));
  await stopGateway(gw, `cameras-${count}`);
  await rm(join(ctx.dir, `gw-cameras-${count}`), { recursive: true, force: true });
  for (const camera of cameras) await rm(join(ctx.nas.store, camera), { recursive: true, force: true });
  const acked = runs.flatMap((r) => r.acked);
  const w = ingestWindow(acked, w0, w1);
  const offeredMbPerS = (count * BYTES) / MB / (SEGMENT_MS / 1000);
  return {
    cameras: count,
    offeredMbPerS,
    mbPerS: w.mbPerS,
    p50Ms: w.p50Ms,
    p99Ms: w.p99Ms,
    maxLagMs: w.maxLagMs,
    refused: mergeRefused(runs),
    mover: moverBetween(m0, m1, (w1 - w0) / 1000),
    backlogGrowthPerS: (b1 - b0) / ((w1 - w0) / 1000),
    backlogAtEnd: b1,
    cpu,
    cpuMsPerMb: (cpu.gateway * 10) / w.mbPerS,
    // Every camera's segments acknowledged as they come (none more than a segment late).
    met: w.mbPerS >= 0.97 * offeredMbPerS && w.maxLagMs < SEGMENT_MS,
    // The backlog counts the moves in flight: it may differ by those between two readings.
    metBacklog: b1 - b0 <= NAS_PARALLEL,
  };
}

// --- 3. backlog drain after a NAS outage --------------------------------------------------

interface Move {
  key: string;
  /** inotify: the temp file appeared (copy started) / the final name appeared (renamed). */
  copyAt: number;
  movedAt: number;
}

/** Watches the NAS camera folders: the order in which the mover really writes. */
function watchMoves(cleanups: Cleanups, store: string, cameras: string[]) {
  const copyAt = new Map<string, number>();
  const moves: Move[] = [];
  const seen = new Set<string>();
  const watchers: FSWatcher[] = [];
  for (const camera of cameras) {
    const w = watch(join(store, camera), (event, file) => {
      if (event !== 'rename' || !file) return;
      const now = performance.now();
      const tmp = /^\.(.+\.m4s)\.[0-9a-f-]+\.tmp$/.exec(file);
      if (tmp?.[1]) {
        const key = `${camera}/${tmp[1]}`;
        if (!copyAt.has(key)) copyAt.set(key, now);
        return;
      }
      if (!file.endsWith('.m4s')) return;
      const key = `${camera}/${file}`;
      if (seen.has(key)) return;
      seen.add(key);
      moves.push({ key, copyAt: copyAt.get(key) ?? now, movedAt: now });
    });
    watchers.push(w);
  }
  const close = () => {
    for (const w of watchers) w.close();
  };
  cleanups.add('close NAS watchers', close);
  return { moves, seen, close };
}

/** Zero loss, like storage-gateway/test/fault-support.ts lossReport, for many cameras. */
async function verify(
  dbUrl: string,
  nasPath: string,
  bufferDir: string,
  acked: Acked[],
): Promise<{ checked: number; problems: string[] }> {
  const db = createPrismaClient(dbUrl, 2);
  const problems: string[] = [];
  try {
    const cameras = [...new Set(acked.map((a) => a.camera))];
    const rows = new Map(
      (
        await db.segment.findMany({
          where: { cameraId: { in: cameras } },
          select: { cameraId: true, name: true, sha256: true, location: true },
        })
      ).map((r) => [`${r.cameraId}/${r.name}`, r]),
    );
    for (const seg of acked) {
      const key = `${seg.camera}/${seg.name}`;
      const row = rows.get(key);
      if (!row) problems.push(`${key}: no index row`);
      else if (row.sha256 !== seg.sha256) problems.push(`${key}: row sha256 ${row.sha256}`);
      else if (row.location !== 'nas') problems.push(`${key}: location ${row.location}`);
      const onNas = await readFile(join(nasPath, seg.camera, seg.name)).catch(() => null);
      if (!onNas) problems.push(`${key}: not on the NAS`);
      else if (sha256(onNas) !== seg.sha256) problems.push(`${key}: NAS copy hashes to ${sha256(onNas)}`);
    }
    for (const camera of cameras) {
      const left = (await readdir(join(bufferDir, camera)).catch(() => [] as string[])).filter((n) =>
        n.endsWith('.m4s'),
      );
      if (left.length > 0) problems.push(`${camera}: ${left.length} segments left in the buffer`);
    }
  } finally {
    await db.$disconnect();
  }
  return { checked: acked.length, problems };
}

interface DrainResult {
  cameras: number;
  cameraMbPerS: number;
  outageS: number;
  nasFailureSeen: string | null;
  backlogSegments: number;
  backlogMb: number;
  backlogRecordedS: number;
  healthBacklogAtRestore: number;
  restoreToFirstMoveS: number;
  drainS: number;
  timesRealTime: number;
  timesRealTimeAfterFirstMove: number;
  movedMbPerSDuringDrain: number;
  /** Wall time per move while draining, and of it the NAS worker's copy. */
  moveMs: number;
  copyMs: number;
  backlogMbPerS: number;
  ingest: Record<'before' | 'outage' | 'drain' | 'after', IngestWindow>;
  cpu: Record<'before' | 'outage' | 'drain', CpuWindow>;
  refused: string;
  movesObserved: number;
  acked: number;
  orderViolations: number;
  orderExamples: string[];
  verified: number;
  problems: string[];
  met: boolean;
}

async function drainRun(cleanups: Cleanups, ctx: Ctx): Promise<DrainResult> {
  const cameras = Array.from({ length: CAMERAS }, (_, c) => `drain-cam-${c}`);
  for (const camera of cameras) await mkdir(join(ctx.nas.store, camera), { recursive: true });
  const watcher = watchMoves(cleanups, ctx.nas.store, cameras);
  const gw = await startGateway(cleanups, ctx, 'drain');
  const runs = startCameras(gw.url, ctx, cameras);
  const stopAll = () => Promise.all(runs.map((r) => r.stop()));
  cleanups.add('stop cameras', stopAll);
  const allAcked = () => runs.flatMap((r) => r.acked);
  const steadyS = Math.max(10, (3 * SEGMENT_MS) / 1000);
  log(`  ${CAMERAS} cameras recording, NAS up, ${steadyS} s`);
  let cpuEnd = await cpuWindow([gw.svc.pid]);
  const before0 = performance.now();
  await sleep(steadyS * 1000);
  const cpuBefore = await cpuEnd();

  // outage
  const tDown = performance.now();
  await ctx.nas.down();
  cpuEnd = await cpuWindow([gw.svc.pid]);
  log(`  NAS down for ${OUTAGE_S} s`);
  let nasFailureSeen: string | null = null;
  const downUntil = tDown + OUTAGE_S * 1000;
  while (performance.now() < downUntil) {
    const h = await health(gw.url);
    if (h.nas === 'failing') nasFailureSeen ??= h.nasFailure ?? 'failing';
    await sleep(Math.min(1000, Math.max(0, downUntil - performance.now())));
  }
  const healthBacklogAtRestore = (await health(gw.url)).backlog;
  const cpuOutage = await cpuEnd();
  const mover0 = await moverMetrics(gw.url);
  await ctx.nas.up();
  const tUp = performance.now();
  cpuEnd = await cpuWindow([gw.svc.pid]);
  const backlog = allAcked().filter((a) => a.ackedAt < tUp && !watcher.seen.has(`${a.camera}/${a.name}`));
  log(
    `  NAS back: ${backlog.length} acknowledged segments waiting (gateway backlog ${healthBacklogAtRestore}); draining while recording`,
  );
  // Done when every one of them is on the NAS; also when the gateway has nothing left to move
  // while some never appeared there (moved somewhere else: reported by the check below).
  let polls = 0;
  let gatewayEmpty = false;
  await waitFor(
    'the backlog to reach the NAS',
    async () => {
      if (backlog.every((a) => watcher.seen.has(`${a.camera}/${a.name}`))) return true;
      if (++polls % 10 === 0 && (await health(gw.url)).backlog === 0) gatewayEmpty = true;
      return gatewayEmpty;
    },
    Math.max(180_000, OUTAGE_S * 10_000),
    50,
  ).catch(async (err: unknown) => {
    const onNas = (await readdir(ctx.nas.store, { recursive: true })).filter((n) => n.endsWith('.m4s'));
    throw new Error(
      `${(err as Error).message}: ${watcher.moves.length} moves seen, ${onNas.length} files on the NAS, gateway ${JSON.stringify(await health(gw.url))}\n${gw.svc.output().slice(-3000)}`,
    );
  });
  if (gatewayEmpty) log('  the gateway backlog is empty but not every segment appeared on the NAS');
  // The moment the last of them was renamed into place on the NAS.
  const backlogKeys = new Set(backlog.map((a) => `${a.camera}/${a.name}`));
  const drained = watcher.moves.reduce((t, m) => (backlogKeys.has(m.key) ? Math.max(t, m.movedAt) : t), tUp);
  const cpuDrain = await cpuEnd();
  const moverDrain = moverBetween(mover0, await moverMetrics(gw.url), (performance.now() - tUp) / 1000);
  const afterS = 5;
  await sleep(afterS * 1000);
  const tEnd = performance.now();
  await stopAll();
  await waitFor('an empty backlog', async () => (await health(gw.url)).backlog === 0, 120_000, 200);
  await sleep(300); // the last inotify events
  watcher.close();
  const acked = allAcked();
  log(`  drained; checking ${acked.length} acknowledged segments by sha256 on the NAS`);
  const check = await verify(ctx.dbUrl, ctx.nas.path, gw.bufferDir, acked);
  await gw.svc.stop();
  // A write that raced the unmount lands on the local disk under the mount point, hidden
  // once the NAS is back: look under it.
  if (ctx.nas.mounts) {
    await ctx.nas.down();
    const hidden = (await readdir(ctx.nas.path, { recursive: true })).filter((n) => !n.endsWith('/'));
    await ctx.nas.up();
    for (const n of hidden) check.problems.push(`${n}: written under the unmounted NAS mount point`);
  }

  // Order: segment Y, acknowledged before the copy of X began, must not reach the NAS after X
  // when it was recorded before X. 50 ms of slack for the inotify events to reach the script.
  // The mover starts up to NAS_PARALLEL copies at once, in recording order, and those may
  // finish in any order: only an overtaking by more than that counts.
  const byKey = new Map(acked.map((a) => [`${a.camera}/${a.name}`, a]));
  const moves = [...watcher.moves].sort((a, b) => a.movedAt - b.movedAt);
  const rank = new Map(moves.map((m, i) => [m.key, i]));
  let orderViolations = 0;
  const orderExamples: string[] = [];
  for (const x of moves) {
    const ax = byKey.get(x.key);
    if (!ax) continue;
    for (const ay of acked) {
      const ky = `${ay.camera}/${ay.name}`;
      if (ay.startMs >= ax.startMs || ay.ackedAt >= x.copyAt - 50) continue;
      if ((rank.get(ky) ?? Number.POSITIVE_INFINITY) - (rank.get(x.key) ?? 0) >= NAS_PARALLEL) {
        orderViolations++;
        if (orderExamples.length < 3) orderExamples.push(`${ky} after ${x.key}`);
      }
    }
  }

  const firstMove = moves.find((m) => m.movedAt >= tUp)?.movedAt ?? Number.NaN;
  const drainS = (drained - tUp) / 1000;
  const spans = cameras.map((camera) => {
    const xs = backlog.filter((a) => a.camera === camera);
    if (xs.length === 0) return 0;
    return (
      (Math.max(...xs.map((a) => a.startMs)) + SEGMENT_MS - Math.min(...xs.map((a) => a.startMs))) / 1000
    );
  });
  const backlogRecordedS = Math.max(...spans);
  const movedDuringDrain = moves.filter((m) => m.movedAt >= tUp && m.movedAt <= drained).length;
  // The mover is busy from its first move after the restore until the backlog is gone.
  const moveMs = (drained - firstMove) / Math.max(1, movedDuringDrain - 1);
  const timesRealTime = backlogRecordedS / drainS;
  return {
    cameras: CAMERAS,
    cameraMbPerS: (CAMERAS * BYTES) / MB / (SEGMENT_MS / 1000),
    outageS: OUTAGE_S,
    nasFailureSeen,
    backlogSegments: backlog.length,
    backlogMb: (backlog.length * BYTES) / MB,
    backlogRecordedS,
    healthBacklogAtRestore,
    restoreToFirstMoveS: (firstMove - tUp) / 1000,
    drainS,
    timesRealTime,
    timesRealTimeAfterFirstMove: backlogRecordedS / ((drained - firstMove) / 1000),
    movedMbPerSDuringDrain: (movedDuringDrain * BYTES) / MB / ((drained - firstMove) / 1000),
    moveMs,
    copyMs: moverDrain.copyMs,
    backlogMbPerS: (backlog.length * BYTES) / MB / drainS,
    ingest: {
      before: ingestWindow(acked, before0, tDown),
      outage: ingestWindow(acked, tDown, tUp),
      drain: ingestWindow(acked, tUp, drained),
      after: ingestWindow(acked, drained, tEnd),
    },
    cpu: { before: cpuBefore, outage: cpuOutage, drain: cpuDrain },
    refused: mergeRefused(runs),
    movesObserved: moves.length,
    acked: acked.length,
    orderViolations,
    orderExamples,
    verified: check.checked,
    problems: check.problems,
    met: timesRealTime >= 5 && orderViolations === 0 && check.problems.length === 0,
  };
}

// --- main ---------------------------------------------------------------------------------

async function main(cleanups: Cleanups, tls: BenchTls): Promise<void> {
  const dir = await benchTempDir(cleanups, 'cctv-bench-gw-');
  const [fsType, device] = (await run('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', dir])).stdout
    .trim()
    .split(/\s+/);
  log(`buffer and disk probe in ${dir} (${fsType} on ${device})`);
  const nas = await makeNas(cleanups, dir, o.nas as 'tmpfs' | 'disk', log);
  log(`NAS: ${nas.how}`);
  const dbUrl = await startDatabase(cleanups, join(dir, 'pg'));
  log('PostgreSQL up (its data directory on the same disk)');

  // Uploads are taken only from a camera's owner: the cameras registered as the master does on
  // a node's hello (the names startCameras and ingestRun give them), each node with its token.
  const owned = new Map<string, string[]>();
  const own = (node: string, camera: string) => owned.set(node, [...(owned.get(node) ?? []), camera]);
  for (const n of UPLOADERS) for (let u = 0; u < n; u++) own(`bench-node-${u}`, `ingest-${n}-${u}`);
  for (const [prefix, count] of [
    ['load-cam', CAMERA_LOAD],
    ['drain-cam', CAMERAS],
  ] as const)
    for (let c = 0; c < count; c++) own(`bench-node-${Math.floor(c / CAMERAS_PER_NODE)}`, `${prefix}-${c}`);
  const tokens = o.auth === 'token' ? await enrolCameraOwners(dbUrl, owned) : new Map<string, string>();
  // Bodies made and hashed before anything is timed; uploaders cycle through them.
  const bodies = makeBodies(64, BYTES);
  log(
    `${tokens.size} nodes enrolled (upload auth ${o.auth}), ${bodies.length} bodies of ${BYTES} bytes ready`,
  );
  const crypto = cryptoFloorMsPerMb();
  log(
    `CPU floor per MB: sha256 ${crypto.sha256.toFixed(2)} ms, AES-256-GCM decryption ${crypto.aesGcm.toFixed(2)} ms`,
  );
  const ctx: Ctx = { dir, tls: o.tls === 'on' ? tls : null, dbUrl, nas, bodies, tokens, crypto };

  const ingest: IngestResult[] = [];
  if (o.only !== 'drain')
    for (const n of UPLOADERS) {
      log(`ingest with ${n} uploader(s): ${WARMUP_S} s warm-up, ${SECONDS} s measured`);
      const r = await ingestRun(cleanups, ctx, n);
      log(
        `  ${f1(r.mbPerS)} MB/s acknowledged, p99 ${f0(r.p99Ms)} ms, gateway CPU ${f0(r.cpu.gateway)} %, NAS ${f1(r.nasMovedMbPerS)} MB/s`,
      );
      ingest.push(r);
    }
  let cameraLoad: CameraLoadResult | null = null;
  if (o.only !== 'drain' && CAMERA_LOAD > 0) {
    log(
      `camera load: ${CAMERA_LOAD} cameras, one ${BYTES}-byte segment each every ${SEGMENT_MS / 1000} s, ${Math.max(WARMUP_S, (CAMERA_LOAD_WARMUP_SEGMENTS * SEGMENT_MS) / 1000)} s warm-up, ${Math.max(2 * SECONDS, (5 * SEGMENT_MS) / 1000)} s measured`,
    );
    cameraLoad = await cameraLoadRun(cleanups, ctx, CAMERA_LOAD);
    log(
      `  ${f1(cameraLoad.mbPerS)} of ${f1(cameraLoad.offeredMbPerS)} MB/s acknowledged, NAS ${f1(cameraLoad.mover.mbPerS)} MB/s, backlog ${cameraLoad.backlogGrowthPerS >= 0 ? '+' : ''}${f1(cameraLoad.backlogGrowthPerS)} segments/s`,
    );
  }
  let drain: DrainResult | null = null;
  if (o.only !== 'ingest' && OUTAGE_S > 0) {
    log(`backlog drain: ${CAMERAS} cameras, one ${BYTES}-byte segment each every ${SEGMENT_MS / 1000} s`);
    drain = await drainRun(cleanups, ctx);
  }

  console.log(
    `\nStorage gateway on ${fsType} (${device}); NAS: ${nas.how}; upload auth ${o.auth}; ${o.tls === 'on' ? 'HTTPS' : 'plain HTTP'}; ${BYTES}-byte segments`,
  );
  if (ingest.length > 0) {
    console.log(
      `1–2. fsync'd disk bandwidth (write+fsync+rename+dir fsync, one file per thread at a time) and gateway ingest, ${SECONDS} s each`,
    );
    console.table(
      ingest.map((r) => ({
        uploaders: r.uploaders,
        'disk MB/s': f1(r.disk.mbPerS),
        'disk ms/file p50': f1(r.disk.p50Ms),
        'ingest MB/s': f1(r.mbPerS),
        'segments/s': f1(r.segmentsPerS),
        'PUT p50/p95/p99 ms': `${f0(r.p50Ms)}/${f0(r.p95Ms)}/${f0(r.p99Ms)}`,
        'of disk': `${f0(r.ratio * 100)} %`,
        'CPU ms/MB (floor)': `${f1(r.cpuMsPerMb)} (${f1(r.floorMsPerMb)})`,
        'NAS MB/s': f1(r.nasMovedMbPerS),
        'NAS of ingest': `${f0(r.nasOfIngest * 100)} %`,
        'move ms (copy)': `${f1(r.mover.cycleMs)} (${f1(r.mover.copyMs)})`,
        'backlog at end': r.backlogAtEnd,
        'loop delay p99/max ms': `${f0(r.mover.loopP99Ms)}/${f0(r.mover.loopMaxMs)}`,
        refused: r.refused,
        'targets disk/CPU/NAS': (['disk', 'cpu', 'nas'] as const)
          .map((k) => (r.met[k] ? 'met' : 'NOT'))
          .join('/'),
      })),
    );
    console.log('CPU during the measured window, % of one core');
    console.table(
      ingest.map((r) => ({
        uploaders: r.uploaders,
        gateway: f0(r.cpu.gateway),
        'gateway main (kernel)': `${f0(r.cpu.gatewayMain)} (${f0(r.cpu.gatewayKernel)})`,
        'NAS worker': f0(r.cpu.nasWorker),
        'uploaders (bench)': f0(r.cpu.client),
        PostgreSQL: f0(r.cpu.postgres),
        elsewhere: f0(r.cpu.elsewhere),
        'host busy': f0(r.cpu.host),
        iowait: f0(r.cpu.iowait),
      })),
    );
    console.log(
      `targets: ≥ ${TARGET_OF_DISK * 100} % of the fsync'd disk bandwidth at the same parallelism (held to it at 8 uploaders); ≤ ${TARGET_CPU_MS_PER_MB} ms of gateway CPU (main + NAS worker) per acknowledged MB; the NAS mover ≥ ${TARGET_NAS_OF_INGEST * 100} % of ingest`,
    );
  }
  if (cameraLoad) {
    const c = cameraLoad;
    console.log(
      `2b. Camera load: ${c.cameras} cameras paced in real time (one segment each every ${SEGMENT_MS / 1000} s)`,
    );
    console.table([
      {
        'offered MB/s': f1(c.offeredMbPerS),
        'acknowledged MB/s': f1(c.mbPerS),
        'PUT p50/p99 ms': `${f0(c.p50Ms)}/${f0(c.p99Ms)}`,
        'max lag ms': f0(c.maxLagMs),
        'NAS MB/s': f1(c.mover.mbPerS),
        'move ms (copy)': `${f1(c.mover.cycleMs)} (${f1(c.mover.copyMs)})`,
        'backlog growth /s': f1(c.backlogGrowthPerS),
        'loop delay p99/max ms': `${f0(c.mover.loopP99Ms)}/${f0(c.mover.loopMaxMs)}`,
        'gateway CPU %': f0(c.cpu.gateway),
        'CPU ms/MB': f1(c.cpuMsPerMb),
        'elsewhere %': f0(c.cpu.elsewhere),
        refused: c.refused,
        'target acknowledged/backlog': `${c.met ? 'met' : 'NOT'}/${c.metBacklog ? 'met' : 'NOT'}`,
      },
    ]);
  }
  if (drain) {
    const d = drain;
    console.log(
      `3. Backlog drain: ${d.cameras} cameras (${f1(d.cameraMbPerS)} MB/s), NAS down ${d.outageS} s (gateway saw: ${d.nasFailureSeen ?? 'nothing'})`,
    );
    console.table([
      {
        backlog: `${d.backlogSegments} segments, ${f0(d.backlogMb)} MB, ${f1(d.backlogRecordedS)} s recorded`,
        'restore → first move s': f1(d.restoreToFirstMoveS),
        'drain s': f1(d.drainS),
        '× real time': f1(d.timesRealTime),
        '× after first move': f1(d.timesRealTimeAfterFirstMove),
        'backlog MB/s': f1(d.backlogMbPerS),
        'moves MB/s once moving': f1(d.movedMbPerSDuringDrain),
        'move ms (copy)': `${f1(d.moveMs)} (${f1(d.copyMs)})`,
        'order violations': d.orderViolations,
        'sha256 checked': `${d.verified}, ${d.problems.length} problems`,
        target: d.met ? 'met' : 'NOT met',
      },
    ]);
    console.log(
      'Ingest of the camera load meanwhile (acknowledged; lag = acknowledged after the segment was due)',
    );
    console.table(
      (['before', 'outage', 'drain', 'after'] as const).map((k) => ({
        window: k,
        seconds: f1(d.ingest[k].seconds),
        'MB/s': f1(d.ingest[k].mbPerS),
        'PUT p50 ms': f0(d.ingest[k].p50Ms),
        'PUT p99 ms': f0(d.ingest[k].p99Ms),
        'max lag ms': f0(d.ingest[k].maxLagMs),
        'gateway CPU %': k === 'after' ? '' : f0(d.cpu[k].gateway),
        'NAS worker %': k === 'after' ? '' : f0(d.cpu[k].nasWorker),
        'PostgreSQL %': k === 'after' ? '' : f0(d.cpu[k].postgres),
        'elsewhere %': k === 'after' ? '' : f0(d.cpu[k].elsewhere),
      })),
    );
    console.log(
      `refused attempts: ${d.refused}; NAS moves seen by inotify: ${d.movesObserved} of ${d.acked} acknowledged`,
    );
    if (d.orderExamples.length > 0) console.log(`out of order, e.g.: ${d.orderExamples.join('; ')}`);
    for (const p of d.problems.slice(0, 10)) console.log(`LOSS: ${p}`);
    console.log(
      'target: ≥ 5× real time, in recording order, every acknowledged segment on the NAS by sha256',
    );
  }

  const out = await writeBenchJson('gateway-storage', o, {
    disk: { fsType, device },
    nas: nas.how,
    ingest,
    cameraLoad,
    drain,
  });
  log(`JSON: ${out}`);
}

runBench(log, main);
