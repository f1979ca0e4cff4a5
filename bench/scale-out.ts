/**
 * Scale-out, one instance against two in the same run:
 *   1. masters: a simulated fleet (bench/fleet-sim.ts, real MQTT) on Mosquitto, first with ONE
 *      master process, then with TWO on the same PostgreSQL (node messages through a shared
 *      subscription, dashboard pushes through LISTEN/NOTIFY): fleet connect time, heartbeats
 *      sent vs applied per second (and each master's share), how far stored heartbeats lag,
 *      CPU of each master, Mosquitto and PostgreSQL, the fleet page (`GET /api/nodes`) through
 *      each master while the fleet heartbeats, and node pushes per second on each master's `/ws`;
 *      also how many nodes the connect wave registered (status and hello stored) and how many
 *      node messages the masters dropped, before the missing nodes announce themselves again,
 *      and how many last wills are stored when the whole fleet drops off;
 *   2. gateways: acknowledged upload MB/s with ONE storage gateway, then TWO on the same
 *      database and NAS directory (each its own buffer and port), the same uploaders split
 *      between them; MB/s per gateway and in total, gateway CPU per MB; runs in the order
 *      1, 2, 2, 1 gateways, each with fresh gateway processes.
 *
 *   node --import tsx bench/scale-out.ts [--nodes 5000] [--heartbeat-s 5] [--seconds 30]
 *       [--page-requests 20] [--connect-batch 50] [--uploaders 8] [--gateway-seconds 20]
 *       [--gateway-order 1,2,2,1]
 *       [--warmup-s 5] [--segment-bytes 1048576] [--only masters|gateways]
 *       [--master-output DIR]   (each master's whole output, written at the end)
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import type { FleetSocketMessage } from '@cctv/protocol';
import { masterPaths } from '@cctv/protocol/master-routes';
import { type ApiSession, signIn } from '../test/support/api-session.ts';
import { launchMosquitto, type MosquittoProcess } from '../test/support/mosquitto-process.ts';
import { type Fleet, startFleet } from './fleet-sim.ts';
import { cpuBetween, hostTicks, snapshot } from './proc-tree.ts';
import {
  benchTempDir,
  type CpuWindow,
  cpuWindow,
  enrolCameraOwners,
  health,
  makeNas,
  metricSum,
  moverBetween,
  moverMetrics,
  type Nas,
  startBenchGateway,
} from './support/gateway.ts';
import {
  type IngestWindow,
  ingestWindow,
  makeBodies,
  mergeRefused,
  startUploader,
} from './support/uploader.ts';
import {
  type BenchTls,
  type Cleanups,
  type MasterService,
  pct,
  runBench,
  sleep,
  startDatabase,
  startMasterService,
  writeBenchJson,
} from './support.ts';

const ADMIN_PASSWORD = 'bench-first-secret-42';

const { values: o } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    'heartbeat-s': { type: 'string', default: '5' },
    seconds: { type: 'string', default: '30' },
    'page-requests': { type: 'string', default: '20' },
    'connect-batch': { type: 'string', default: '50' },
    uploaders: { type: 'string', default: '8' },
    'gateway-seconds': { type: 'string', default: '20' },
    'gateway-order': { type: 'string', default: '1,2,2,1' },
    'warmup-s': { type: 'string', default: '5' },
    'segment-bytes': { type: 'string', default: String(1024 * 1024) },
    only: { type: 'string' },
    'master-output': { type: 'string' },
  },
});
const N = Number(o.nodes);
const HEARTBEAT_S = Number(o['heartbeat-s']);
const SECONDS = Number(o.seconds);
const PAGES = Number(o['page-requests']);
const UPLOADERS = Number(o.uploaders);
const GW_SECONDS = Number(o['gateway-seconds']);
/** One gateway, then two, then two, then one: drift on a shared box falls on both alike. */
const GATEWAY_ORDER = o['gateway-order'].split(',').map(Number);
const WARMUP_S = Number(o['warmup-s']);
const BYTES = Number(o['segment-bytes']);
if (!GATEWAY_ORDER.includes(1) || !GATEWAY_ORDER.includes(2) || GATEWAY_ORDER.some((k) => k !== 1 && k !== 2))
  throw new Error('--gateway-order lists 1 and 2 (gateways per run), e.g. 1,2,2,1');
if (o.only !== undefined && o.only !== 'masters' && o.only !== 'gateways')
  throw new Error('--only is masters or gateways');
if (![N, HEARTBEAT_S, SECONDS, PAGES, UPLOADERS, GW_SECONDS, BYTES].every((x) => x > 0) || !(WARMUP_S >= 0))
  throw new Error('bad numeric option');

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// --- 1. masters ------------------------------------------------------------------------------

interface Master extends MasterService {
  id: string;
  session: ApiSession;
}

interface MastersResult {
  masters: number;
  connectS: number;
  /** From the fleet connected to the last node registered in that wave (online, with its camera). */
  waveS: number;
  waveNodes: number;
  /** Status and hello messages each master failed to store in the wave (dropped). */
  storeFailed: number[];
  /** The missing nodes' status and hello sent again until all are registered. */
  repairS: number;
  repairRounds: number;
  repairFailed: number[];
  /** Nodes still not registered when measuring began. */
  unregistered: number;
  /** Heartbeats of nodes without a row dropped by each master in the measured window. */
  unknownHeartbeats: number[];
  /** The fleet gone (every connection cut): last wills stored, and failures meanwhile. */
  willsApplied: number;
  willsFailed: number[];
  sentPerS: number;
  appliedPerS: number;
  /** Each master's heartbeats applied per second. */
  appliedEach: number[];
  lagP50S: number;
  lagMaxS: number;
  /** Least-squares slope of the lag samples, seconds of lag per second (0: bounded). */
  lagSlope: number;
  lagSamples: number[];
  cpu: ClusterCpu;
  /** `GET /api/nodes` through each master while the fleet heartbeats, and the CPU meanwhile. */
  page: { p50Ms: number; p95Ms: number; maxMs: number; nodes: number; bytes: number }[];
  pageCpu: ClusterCpu;
  /** Node messages per second on each master's `/ws`, and the distinct nodes they named. */
  ws: { perS: number; nodes: number }[];
  /** The fleet gone: every last will applied (all nodes offline). */
  offlineS: number;
  brokerWarnings: string[];
}

/** Nodes whose lost status and hello are sent again at once. */
const REPAIR_BATCH = 250;
/** A wave of node messages is over once nothing was stored or dropped for this long. */
const SETTLE_MS = 10_000;

/**
 * Polls `count` until `done`, or until neither it nor the masters' dropped messages have moved
 * for `stallMs` (a master working off a backlog stores or drops something every few seconds):
 * the last count and when it last moved.
 */
async function settle(
  count: () => Promise<number>,
  masters: Master[],
  done: (n: number) => boolean,
  stallMs: number,
): Promise<{ n: number; at: number }> {
  const read = async () => [await count(), sum(await Promise.all(masters.map(storeFailures)))] as const;
  let [n, failed] = await read();
  let at = Date.now();
  while (!done(n) && Date.now() - at < stallMs) {
    await sleep(250);
    const [m, f] = await read();
    if (m !== n || f !== failed) {
      [n, failed] = [m, f];
      at = Date.now();
    }
  }
  return { n, at };
}

/** Least-squares slope of samples taken one second apart. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return Number.NaN;
  const mx = (n - 1) / 2;
  const my = sum(ys) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** A signed-in `/ws` on a master, counting node messages (not the snapshot) and their nodes. */
async function nodeSocket(cleanups: Cleanups, session: ApiSession) {
  const ws = session.socket('/ws');
  cleanups.add('close ws', () => ws.terminate());
  let count = 0;
  const ids = new Set<string>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as FleetSocketMessage;
    if (msg.type !== 'node') return;
    count++;
    ids.add(msg.node.id);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    reset() {
      count = 0;
      ids.clear();
    },
    read: () => ({ count, nodes: ids.size }),
    close: () => ws.terminate(),
  };
}

type NodeSocket = Awaited<ReturnType<typeof nodeSocket>>;

const scrape = async (m: Master) => (await fetch(`${m.api}${masterPaths.metrics()}`)).text();
const heartbeatsApplied = async (m: Master) =>
  metricSum(await scrape(m), 'cctv_mqtt_messages_total{kind="heartbeat"}');
const unknownHeartbeats = async (m: Master) =>
  metricSum(await scrape(m), 'cctv_mqtt_messages_rejected_total{kind="heartbeat",reason="unknown_node"}');
/** Node messages a master took but could not store (logged and dropped). */
const storeFailures = async (m: Master) => {
  const text = await scrape(m);
  return ['status', 'hello', 'heartbeat'].reduce(
    (n, kind) =>
      n + metricSum(text, `cctv_mqtt_messages_rejected_total{kind="${kind}",reason="store_failed"}`),
    0,
  );
};

async function newestHeartbeatLag(db: PrismaClient): Promise<number> {
  const [row] = await db.$queryRawUnsafe<{ lag: number }[]>(
    `SELECT EXTRACT(EPOCH FROM (now() - max("lastHeartbeatAt")))::float8 AS lag FROM "Node"`,
  );
  return row?.lag ?? Number.NaN;
}

/** Each master's dropped node messages since `base` (a reading of them all). */
const failedSince = async (masters: Master[], base: number[]) =>
  (await Promise.all(masters.map(storeFailures))).map((n, i) => n - (base[i] ?? 0));

/**
 * The fleet's connect wave until every node is registered (online since `since`, with its
 * camera: its status and hello stored), or until it settles (SETTLE_MS): a status or hello a
 * master fails to store is dropped, nothing sends it again. Then, so that the rest is measured with the whole
 * fleet, the missing nodes send their status and hello again (as agents do on their next
 * connect), REPAIR_BATCH at a time.
 */
async function registerFleet(
  db: PrismaClient,
  fleet: Fleet,
  masters: Master[],
  since: Date,
  connectS: number,
) {
  const registered = async () =>
    new Set(
      (
        await db.node.findMany({
          where: {
            id: { startsWith: 'scale-' },
            state: 'online',
            lastSeenAt: { gte: since },
            cameras: { some: {} },
          },
          select: { id: true },
        })
      ).map((r) => r.id),
    );
  const count = async () => (await registered()).size;
  const base = await Promise.all(masters.map(storeFailures));
  const wave = await settle(count, masters, (n) => n >= N, SETTLE_MS);
  const waveS = (wave.at - since.getTime()) / 1000 - connectS;
  const storeFailed = await failedSince(masters, base);
  log(
    `  ${wave.n} of ${N} nodes registered (online, with their camera) ${f1(waveS)} s later; messages not stored: ${storeFailed.join(' + ')}`,
  );
  const r0 = Date.now();
  let rounds = 0;
  let unregistered = 0;
  for (;;) {
    const have = await registered();
    const missing = fleet.nodeIds.filter((id) => !have.has(id));
    unregistered = missing.length;
    if (missing.length === 0 || Date.now() - r0 > 120_000) break;
    rounds++;
    const batch = missing.slice(0, REPAIR_BATCH);
    await fleet.announce(batch);
    await settle(count, masters, (n) => n >= have.size + batch.length, 3000);
  }
  const repairS = (Date.now() - r0) / 1000;
  const repairFailed = (await failedSince(masters, base)).map((n, i) => n - (storeFailed[i] ?? 0));
  if (rounds > 0)
    log(
      `  repaired in ${f1(repairS)} s (${rounds} rounds of ≤ ${REPAIR_BATCH} nodes; not stored meanwhile: ${repairFailed.join(' + ')}); ${unregistered} still missing`,
    );
  return { waveS, waveNodes: wave.n, storeFailed, repairS, repairRounds: rounds, repairFailed, unregistered };
}

/** CPU, % of one core, of each master, Mosquitto, PostgreSQL, the fleet (this process), the host. */
interface ClusterCpu {
  masters: number[];
  mosquitto: number;
  postgres: number;
  fleetSim: number;
  host: number;
}

/** Starts a CPU window over the masters, the broker and the rest; the returned function ends it. */
async function clusterCpu(masters: Master[], broker: MosquittoProcess): Promise<() => Promise<ClusterCpu>> {
  const pids = [...masters.map((m) => m.svc.pid), broker.pid, process.pid];
  const [a, hostA] = [await Promise.all(pids.map((p) => snapshot(p))), await hostTicks()];
  return async () => {
    const [b, hostB] = [await Promise.all(pids.map((p) => snapshot(p))), await hostTicks()];
    const cpu = b.map((end, i) => cpuBetween(a[i] as (typeof a)[number], end));
    const masterCpu = cpu.slice(0, masters.length).map((c) => c.total);
    const brokerCpu = cpu[masters.length]?.total ?? Number.NaN;
    const bench = cpu[masters.length + 1];
    return {
      masters: masterCpu,
      mosquitto: brokerCpu,
      // The bench's other descendants: PostgreSQL, once the masters and the broker are taken out.
      postgres: Math.max(0, (bench?.other ?? 0) + (bench?.ffmpeg ?? 0) - sum(masterCpu) - brokerCpu),
      fleetSim: bench?.root ?? Number.NaN,
      host: ((hostB.busy - hostA.busy) / Math.max(1, hostB.total - hostA.total)) * cpus().length * 100,
    };
  };
}

/** SECONDS of heartbeats: sent and applied, the newest stored one's lag each second, CPU, pushes. */
async function measureHeartbeats(
  db: PrismaClient,
  fleet: Fleet,
  masters: Master[],
  broker: MosquittoProcess,
  sockets: NodeSocket[],
) {
  const [applied0, unknown0] = [
    await Promise.all(masters.map(heartbeatsApplied)),
    await Promise.all(masters.map(unknownHeartbeats)),
  ];
  const sent0 = fleet.stats().heartbeatsSent;
  const cpuEnd = await clusterCpu(masters, broker);
  for (const s of sockets) s.reset();
  const t = Date.now();
  const lags: number[] = [];
  while (Date.now() - t < SECONDS * 1000) {
    await sleep(1000);
    lags.push(await newestHeartbeatLag(db));
  }
  const secs = (Date.now() - t) / 1000;
  const pushes = sockets.map((s) => s.read());
  const cpu = await cpuEnd();
  const sentPerS = (fleet.stats().heartbeatsSent - sent0) / secs;
  const appliedEach = (await Promise.all(masters.map(heartbeatsApplied))).map(
    (n, i) => (n - (applied0[i] ?? 0)) / secs,
  );
  const unknown = (await Promise.all(masters.map(unknownHeartbeats))).map((n, i) => n - (unknown0[i] ?? 0));
  log(
    `  ${f0(sentPerS)} heartbeats/s sent, ${f0(sum(appliedEach))} applied (${appliedEach.map(f0).join(' + ')}), lag max ${f2(Math.max(...lags))} s, masters CPU ${cpu.masters.map(f0).join(' + ')} %`,
  );
  return {
    sentPerS,
    appliedPerS: sum(appliedEach),
    appliedEach,
    unknownHeartbeats: unknown,
    lagP50S: pct(lags, 50),
    lagMaxS: Math.max(...lags),
    lagSlope: slope(lags),
    lagSamples: lags,
    cpu,
    ws: pushes.map((p) => ({ perS: p.count / secs, nodes: p.nodes })),
  };
}

/** `GET /api/nodes` PAGES times through each master, in turn, while the fleet heartbeats. */
async function fleetPages(masters: Master[], broker: MosquittoProcess) {
  const page = masters.map(() => ({ ms: [] as number[], nodes: 0, bytes: 0 }));
  const cpuEnd = await clusterCpu(masters, broker);
  for (let i = 0; i < PAGES; i++)
    for (const [k, m] of masters.entries()) {
      const p = page[k] as (typeof page)[number];
      const t0 = performance.now();
      const res = await m.session.fetch(masterPaths.nodes());
      const body = await res.text();
      p.ms.push(performance.now() - t0);
      if (!res.ok) throw new Error(`GET /api/nodes at ${m.id}: ${res.status} ${body.slice(0, 200)}`);
      p.bytes = body.length;
      p.nodes = (JSON.parse(body) as unknown[]).length;
    }
  const cpu = await cpuEnd();
  log(
    `  fleet page p95 ${page.map((p) => f0(pct(p.ms, 95))).join(' / ')} ms (${f1((page[0]?.bytes ?? 0) / 1e6)} MB); masters CPU ${cpu.masters.map(f0).join(' + ')} %, PostgreSQL ${f0(cpu.postgres)} %, host ${f0(cpu.host)} %`,
  );
  const pages = page.map((p) => ({
    p50Ms: pct(p.ms, 50),
    p95Ms: pct(p.ms, 95),
    maxMs: Math.max(...p.ms),
    nodes: p.nodes,
    bytes: p.bytes,
  }));
  return { page: pages, pageCpu: cpu };
}

/** Every connection cut at once: last wills stored until none is left or it settles (SETTLE_MS). */
async function fleetGone(db: PrismaClient, fleet: Fleet, masters: Master[]) {
  const base = await Promise.all(masters.map(storeFailures));
  await fleet.stop();
  const t = Date.now();
  const notOffline = () =>
    db.node.count({ where: { id: { startsWith: 'scale-' }, state: { not: 'offline' } } });
  const gone = await settle(notOffline, masters, (n) => n === 0, SETTLE_MS);
  const willsFailed = await failedSince(masters, base);
  const offlineS = (gone.at - t) / 1000;
  log(
    `  fleet gone: ${N - gone.n} of ${N} last wills applied in ${f1(offlineS)} s; not stored: ${willsFailed.join(' + ')}`,
  );
  return { willsApplied: N - gone.n, willsFailed, offlineS };
}

/** One round: the fleet connects, is registered, heartbeats (measured), is read, and leaves. */
async function mastersRun(
  cleanups: Cleanups,
  db: PrismaClient,
  broker: MosquittoProcess,
  masters: Master[],
): Promise<MastersResult> {
  const sockets = await Promise.all(masters.map((m) => nodeSocket(cleanups, m.session)));
  const brokerLog0 = broker.log().length;
  const since = new Date();
  const fleet = await startFleet({
    url: broker.url,
    nodes: N,
    camerasPerNode: 1,
    heartbeatS: HEARTBEAT_S,
    eventsPerS: 0,
    prefix: 'scale',
    connectBatch: Number(o['connect-batch']),
  });
  cleanups.add('fleet', () => fleet.stop());
  const connectS = (Date.now() - since.getTime()) / 1000;
  log(`  ${N} nodes connected to Mosquitto in ${f1(connectS)} s`);
  const registration = await registerFleet(db, fleet, masters, since, connectS);
  log('  5 s before measuring');
  await sleep(5000);
  const heartbeats = await measureHeartbeats(db, fleet, masters, broker, sockets);
  const pages = await fleetPages(masters, broker);
  const gone = await fleetGone(db, fleet, masters);
  for (const s of sockets) s.close();
  const brokerWarnings = broker
    .log()
    .slice(brokerLog0)
    .split('\n')
    .filter((l) => /warning|error|drop/i.test(l))
    .slice(0, 20);
  return {
    masters: masters.length,
    connectS,
    ...registration,
    ...heartbeats,
    ...pages,
    ...gone,
    brokerWarnings,
  };
}

/** A master's warnings and errors (in the output kept: its last ~100 KB), counted by message. */
function logSummary(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of output.split('\n')) {
    let entry: { level?: number; msg?: string; kind?: string; err?: { code?: string } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    const key = [entry.msg, entry.kind, entry.err?.code].filter(Boolean).join(', ');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Open files this process may have (what Mosquitto would inherit). */
async function openFileLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN);
}

async function mastersPart(cleanups: Cleanups, tls: BenchTls, dir: string, dbUrl: string) {
  // One descriptor a client: raised for the broker alone when this process has too few.
  const inherited = await openFileLimit();
  const openFiles = inherited >= N + 1024 ? undefined : N + 1024;
  const mosquittoDir = join(dir, 'mosquitto');
  await mkdir(mosquittoDir);
  const broker = await launchMosquitto(
    {
      dir: mosquittoDir,
      openFiles,
      config: [
        'max_connections -1',
        // As deploy/compose/mosquitto/mosquitto.conf: the default (1,000 queued for a client
        // beyond its 20 in flight) drops the rest of a wave, e.g. all but 1,020 of the 5,000
        // last wills of a fleet that drops off at once, before the master ever sees them.
        'max_queued_messages 100000',
        'connection_messages false',
        'log_type error',
        'log_type warning',
      ],
    },
    (stop) => cleanups.add('stop mosquitto', stop),
  );
  log(
    `Mosquitto (${broker.url}, pid ${broker.pid}), open files ${openFiles ?? `${inherited} (inherited)`}, max_connections unlimited, max_queued_messages 100000`,
  );
  const keys = join(dir, 'keys');
  await mkdir(keys);
  const startMaster = async (n: number): Promise<Master> => {
    const id = `scale-master-${n}`;
    const m = await startMasterService(
      cleanups,
      tls,
      {
        DATABASE_URL: dbUrl,
        MASTER_DATA_DIR: join(dir, id),
        MASTER_EXPORT_DIR: join(dir, 'exports'),
        // One cluster: the keys that sign sessions and grants and seal secrets are shared.
        MASTER_SESSION_KEY_FILE: join(keys, 'session.json'),
        MASTER_GRANT_KEY_FILE: join(keys, 'grant.json'),
        MASTER_CAMERA_KEY_FILE: join(keys, 'camera-secrets.json'),
        MQTT_URL: broker.url,
        MASTER_INSTANCE_ID: id,
        MASTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
        LOG_LEVEL: 'warn',
      },
      id,
    );
    return { ...m, id, session: await signIn(m.api, 'admin', ADMIN_PASSWORD) };
  };
  const db = createPrismaClient(dbUrl, 2);
  cleanups.add('db', () => db.$disconnect());
  const one = await startMaster(1);
  log(`one master: ${N} nodes × 1 camera, a heartbeat each every ${HEARTBEAT_S} s`);
  const single = await mastersRun(cleanups, db, broker, [one]);
  const two = await startMaster(2);
  log('two masters: the same fleet again');
  const pair = await mastersRun(cleanups, db, broker, [one, two]);
  const outDir = o['master-output'];
  if (outDir) {
    await mkdir(outDir, { recursive: true });
    for (const m of [one, two]) await writeFile(join(outDir, `${m.id}.log`), m.svc.output());
  }
  // Nothing of the cluster left running beside the gateways measured next.
  await Promise.all([one.svc.stop(), two.svc.stop()]);
  await broker.stop();
  return { results: [single, pair], masterLogs: [one, two].map((m) => logSummary(m.svc.output())) };
}

// --- 2. gateways -----------------------------------------------------------------------------

interface GatewaysResult {
  /** Its place in --gateway-order. */
  run: number;
  gateways: number;
  uploaders: number;
  total: IngestWindow;
  each: (IngestWindow & { cpu: number; cpuMsPerMb: number; nasMbPerS: number; backlogAtEnd: number })[];
  cpu: CpuWindow;
  cpuMsPerMb: number;
  refused: string;
}

interface GatewayCtx {
  dir: string;
  tls: BenchTls;
  dbUrl: string;
  nas: Nas;
  tokens: Map<string, string>;
  bodies: ReturnType<typeof makeBodies>;
}

const cameraOf = (run: number, u: number) => `scale-r${run}-${u}`;
const nodeOf = (u: number) => `bench-node-${u}`;

/** UPLOADERS back-to-back uploaders over `k` fresh gateways (uploader u to gateway u mod k). */
async function gatewaysRun(
  cleanups: Cleanups,
  ctx: GatewayCtx,
  run: number,
  k: number,
): Promise<GatewaysResult> {
  const tags = Array.from({ length: k }, (_, g) => `scale-r${run}-${g + 1}`);
  const gws = await Promise.all(
    tags.map((tag) =>
      startBenchGateway(cleanups, {
        dir: ctx.dir,
        tag,
        dbUrl: ctx.dbUrl,
        nas: ctx.nas,
        tls: ctx.tls,
        auth: 'token',
        nasParallel: 16,
      }),
    ),
  );
  const t0 = performance.now();
  const runs = Array.from({ length: UPLOADERS }, (_, u) =>
    startUploader({
      url: (gws[u % k] as (typeof gws)[number]).url,
      camera: cameraOf(run, u),
      node: nodeOf(u),
      token: ctx.tokens.get(nodeOf(u)) ?? null,
      bodies: ctx.bodies,
      bodyOffset: u * 7,
      recordStartMs: Date.now() - 3_600_000,
      segmentMs: 2000,
      paceMs: 0,
      t0,
    }),
  );
  await sleep(WARMUP_S * 1000);
  const m0 = await Promise.all(gws.map((g) => moverMetrics(g.url)));
  const cpuEnd = await cpuWindow(gws.map((g) => g.svc.pid));
  const w0 = performance.now();
  await sleep(GW_SECONDS * 1000);
  const w1 = performance.now();
  const cpu = await cpuEnd();
  const movers = await Promise.all(
    gws.map(async (g, i) =>
      moverBetween(m0[i] as (typeof m0)[number], await moverMetrics(g.url), (w1 - w0) / 1000),
    ),
  );
  await Promise.all(runs.map((r) => r.stop()));
  const backlogs = await Promise.all(gws.map(async (g) => (await health(g.url)).backlog));
  for (const g of gws) await g.svc.stop();
  for (const tag of tags) await rm(join(ctx.dir, `gw-${tag}`), { recursive: true, force: true });
  for (let u = 0; u < UPLOADERS; u++)
    await rm(join(ctx.nas.store, cameraOf(run, u)), { recursive: true, force: true });

  const total = ingestWindow(
    runs.flatMap((r) => r.acked),
    w0,
    w1,
  );
  const each = gws.map((_, g) => {
    const w = ingestWindow(
      runs.filter((_, u) => u % k === g).flatMap((r) => r.acked),
      w0,
      w1,
    );
    const c = cpu.perGateway[g] ?? Number.NaN;
    return {
      ...w,
      cpu: c,
      cpuMsPerMb: (c * 10) / w.mbPerS,
      nasMbPerS: movers[g]?.mbPerS ?? Number.NaN,
      backlogAtEnd: backlogs[g] ?? Number.NaN,
    };
  });
  return {
    run,
    gateways: k,
    uploaders: UPLOADERS,
    total,
    each,
    cpu,
    cpuMsPerMb: (cpu.gateway * 10) / total.mbPerS,
    refused: mergeRefused(runs),
  };
}

async function gatewaysPart(cleanups: Cleanups, tls: BenchTls, dir: string, dbUrl: string) {
  const nas = await makeNas(cleanups, dir, 'tmpfs', log);
  log(`NAS: ${nas.how}`);
  const owned = new Map<string, string[]>();
  for (let u = 0; u < UPLOADERS; u++)
    owned.set(
      nodeOf(u),
      GATEWAY_ORDER.map((_, run) => cameraOf(run, u)),
    );
  const tokens = await enrolCameraOwners(dbUrl, owned);
  const ctx: GatewayCtx = { dir, tls, dbUrl, nas, tokens, bodies: makeBodies(64, BYTES) };
  const results: GatewaysResult[] = [];
  for (const [run, k] of GATEWAY_ORDER.entries()) {
    log(
      `${k} gateway(s), ${UPLOADERS} uploaders back to back: ${WARMUP_S} s warm-up, ${GW_SECONDS} s measured`,
    );
    const r = await gatewaysRun(cleanups, ctx, run, k);
    log(
      `  ${f1(r.total.mbPerS)} MB/s acknowledged (${r.each.map((e) => f1(e.mbPerS)).join(' + ')}), gateway CPU ${r.cpu.perGateway.map(f0).join(' + ')} %, ${f1(r.cpuMsPerMb)} ms/MB`,
    );
    results.push(r);
  }
  return { results, nas: nas.how };
}

// --- main ------------------------------------------------------------------------------------

const ratio = (two: number, one: number) => (Number.isFinite(two / one) ? `${(two / one).toFixed(2)}×` : '—');

function printMasters(r: MastersResult[]) {
  console.log(
    `\nMasters on Mosquitto and one PostgreSQL: ${N} nodes × 1 camera, a heartbeat every ${HEARTBEAT_S} s (${f0(N / HEARTBEAT_S)}/s), ${SECONDS} s measured`,
  );
  console.log('The fleet connecting (each node: retained online status and a hello) and heartbeating');
  console.table(
    r.map((x) => ({
      masters: x.masters,
      'connect s': f1(x.connectS),
      'registered in the wave (+s)': `${x.waveNodes} (${f1(x.waveS)})`,
      'not stored': x.storeFailed.join(' + '),
      'repair s (rounds)': `${f1(x.repairS)} (${x.repairRounds})`,
      'sent /s': f0(x.sentPerS),
      'applied /s (each)': `${f0(x.appliedPerS)} (${x.appliedEach.map(f0).join(' + ')})`,
      'lag p50/max s': `${f2(x.lagP50S)}/${f2(x.lagMaxS)}`,
      'lag slope ms/s': f1(x.lagSlope * 1000),
      'master CPU %': x.cpu.masters.map(f0).join(' + '),
      'Mosquitto %': f0(x.cpu.mosquitto),
      'PostgreSQL %': f0(x.cpu.postgres),
      'fleet sim %': f0(x.cpu.fleetSim),
      'host %': f0(x.cpu.host),
    })),
  );
  console.log(
    `The fleet page (GET /api/nodes, ${PAGES} times through each master in turn, while heartbeating), pushes, and the fleet leaving`,
  );
  console.table(
    r.map((x) => ({
      masters: x.masters,
      'page MB': f1((x.page[0]?.bytes ?? 0) / 1e6),
      'page p50/p95 ms (each)': x.page.map((p) => `${f0(p.p50Ms)}/${f0(p.p95Ms)}`).join(', '),
      'master CPU %': x.pageCpu.masters.map(f0).join(' + '),
      'PostgreSQL %': f0(x.pageCpu.postgres),
      'host %': f0(x.pageCpu.host),
      'ws node msgs/s (nodes)': x.ws.map((w) => `${f0(w.perS)} (${w.nodes})`).join(', '),
      'last wills stored (s)': `${x.willsApplied} (${f1(x.offlineS)})`,
      'not stored': x.willsFailed.join(' + '),
    })),
  );
}

function printGateways(r: GatewaysResult[]) {
  console.log(
    `\nStorage gateways on one PostgreSQL and one NAS directory: ${UPLOADERS} uploaders back to back, ${BYTES}-byte segments, HTTPS, ${GW_SECONDS} s measured`,
  );
  console.table(
    r.map((x) => ({
      run: x.run + 1,
      gateways: x.gateways,
      'MB/s (each)': `${f1(x.total.mbPerS)} (${x.each.map((e) => f1(e.mbPerS)).join(' + ')})`,
      'PUT p50/p99 ms': `${f0(x.total.p50Ms)}/${f0(x.total.p99Ms)}`,
      'gateway CPU % (each)': `${f0(x.cpu.gateway)} (${x.cpu.perGateway.map(f0).join(' + ')})`,
      'CPU ms/MB (each)': `${f1(x.cpuMsPerMb)} (${x.each.map((e) => f1(e.cpuMsPerMb)).join(' + ')})`,
      'NAS MB/s': x.each.map((e) => f1(e.nasMbPerS)).join(' + '),
      'uploaders %': f0(x.cpu.client),
      'PostgreSQL %': f0(x.cpu.postgres),
      'elsewhere %': f0(x.cpu.elsewhere),
      'host %': f0(x.cpu.host),
      refused: x.refused,
    })),
  );
}

function summary(m: MastersResult[] | null, g: GatewaysResult[] | null) {
  const rows: { figure: string; one: string; two: string; 'two ÷ one': string; target: string }[] = [];
  const row = (figure: string, one: number, two: number, show: (x: number) => string, target = '') =>
    rows.push({ figure, one: show(one), two: show(two), 'two ÷ one': ratio(two, one), target });
  if (m) {
    const [a, b] = m as [MastersResult, MastersResult];
    row('fleet connect s', a.connectS, b.connectS, f1);
    row('heartbeats applied /s', a.appliedPerS, b.appliedPerS, f0, `all ${f0(N / HEARTBEAT_S)} sent`);
    row('stored heartbeat lag max s', a.lagMaxS, b.lagMaxS, f2, 'bounded');
    row('master CPU % (sum)', sum(a.cpu.masters), sum(b.cpu.masters), f0);
    row('Mosquitto CPU %', a.cpu.mosquitto, b.cpu.mosquitto, f0);
    row(
      'fleet page p95 ms (worst master)',
      Math.max(...a.page.map((p) => p.p95Ms)),
      Math.max(...b.page.map((p) => p.p95Ms)),
      f0,
      '≤ 1000',
    );
  }
  if (g) {
    const mean = (k: number, of: (r: GatewaysResult) => number) => {
      const xs = g.filter((r) => r.gateways === k).map(of);
      return sum(xs) / xs.length;
    };
    const runs = (k: number) => g.filter((r) => r.gateways === k).length;
    const both = (of: (r: GatewaysResult) => number) => [mean(1, of), mean(2, of)] as const;
    row(
      `gateway MB/s acknowledged (mean of ${runs(1)} / ${runs(2)} runs)`,
      ...both((r) => r.total.mbPerS),
      f1,
    );
    row('gateway CPU ms/MB (mean)', ...both((r) => r.cpuMsPerMb), f1);
  }
  console.log('\nSummary: one instance, two instances, same run');
  console.table(rows);
}

async function main(cleanups: Cleanups, tls: BenchTls): Promise<void> {
  const dir = await benchTempDir(cleanups, 'cctv-bench-scale-');
  const dbUrl = await startDatabase(cleanups, join(dir, 'pg'));
  log('PostgreSQL up');
  const masters = o.only === 'gateways' ? null : await mastersPart(cleanups, tls, dir, dbUrl);
  const gateways = o.only === 'masters' ? null : await gatewaysPart(cleanups, tls, dir, dbUrl);

  if (masters) {
    printMasters(masters.results);
    for (const [i, r] of masters.results.entries())
      for (const w of r.brokerWarnings) console.log(`Mosquitto (${i + 1} master(s)): ${w}`);
    for (const [i, counts] of masters.masterLogs.entries())
      for (const [what, n] of Object.entries(counts)) console.log(`master ${i + 1} logged ${n} × ${what}`);
  }
  if (gateways) printGateways(gateways.results);
  summary(masters?.results ?? null, gateways?.results ?? null);

  const out = await writeBenchJson('scale-out', o, {
    masters: masters?.results ?? null,
    masterWarnings: masters?.masterLogs ?? null,
    gateways: gateways?.results ?? null,
    nas: gateways?.nas ?? null,
  });
  log(`JSON: ${out}`);
}

runBench(log, main);
