/**
 * What TLS costs, measured in one run on one box: each figure with TLS (as deployed) and without,
 * side by side, the load the same and the slices interleaved in a rotating order, so that both
 * see the same machine (other work on a shared box included):
 *
 *   1. gateway segment ingest MB/s: two real gateway processes on one PostgreSQL, one serving
 *      HTTPS, one plain HTTP (`GATEWAY_TLS=off`), each fed in turn by --uploaders agent-like
 *      uploaders (one keep-alive connection per camera, as agents keep theirs, one PUT at a time,
 *      node upload tokens) with the same bodies of --min-bytes to --max-bytes;
 *   2. master heartbeat ingest/s: one real master (node logins on), two simulated fleets of
 *      --nodes nodes each (bench/fleet-sim.ts), one on the broker's TLS listener (mqtts://, as
 *      nodes reach it), one on its plain loopback listener, heartbeating in turn at --hb-rate.
 *
 * Prints per configuration the median over the rounds, min–max, the ratio to the plain control,
 * CPU per unit of work, and PASS/FAIL against the targets (≥ 100 MB/s, ≥ 10,000 heartbeats/s,
 * with TLS); exits 1 when a target fails.
 *
 * A script of its own rather than a `--tls` mode of gateway-storage.ts / master-ingest.ts: those
 * measure one configuration per phase, each in a fresh process; here both configurations stay up
 * side by side for the interleaved rounds. The pieces are shared: the uploaders
 * (support/uploader.ts), the fleet (fleet-sim.ts) and the services (support.ts).
 *
 *   node --import tsx bench/tls-cost.ts [--uploaders 8] [--min-bytes 524288] [--max-bytes 2097152]
 *       [--nodes 500] [--hb-rate 12000] [--cameras 4] [--seconds 5] [--rounds 5] [--warmup-s 1]
 *       [--only gateway|master] [--nas tmpfs|disk]
 *
 * The gateways' NAS is a tmpfs by default, as in gateway-storage.ts: a NAS is another machine,
 * whose disk is not this box's cost; `--nas disk` puts it beside the buffer on this disk.
 */

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parseArgs, promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import { enrolTestNodeFully, registerTestCameras } from '../test/support/enrol.ts';
import { startFleet } from './fleet-sim.ts';
import { cpuBetween, snapshot } from './proc-tree.ts';
import { type Body, mergeRefused, startUploader } from './support/uploader.ts';
import {
  type BenchTls,
  type Cleanups,
  fleetEnrolment,
  runBench,
  type Service,
  sleep,
  startDatabase,
  startGatewayService,
  startMasterService,
  waitFor,
} from './support.ts';

const { values: o } = parseArgs({
  options: {
    uploaders: { type: 'string', default: '8' },
    'min-bytes': { type: 'string', default: String(512 * 1024) },
    'max-bytes': { type: 'string', default: String(2 * 1024 * 1024) },
    nodes: { type: 'string', default: '500' },
    'hb-rate': { type: 'string', default: '12000' },
    cameras: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    'warmup-s': { type: 'string', default: '1' },
    only: { type: 'string' },
    nas: { type: 'string', default: 'tmpfs' },
  },
});
if (o.nas !== 'tmpfs' && o.nas !== 'disk') throw new Error('--nas is tmpfs or disk');
const UPLOADERS = Number(o.uploaders);
const MIN_BYTES = Number(o['min-bytes']);
const MAX_BYTES = Number(o['max-bytes']);
const NODES = Number(o.nodes);
const HB_RATE = Number(o['hb-rate']);
const SECONDS = Number(o.seconds);
const ROUNDS = Number(o.rounds);
const WARMUP_S = Number(o['warmup-s']);
if (o.only !== undefined && o.only !== 'gateway' && o.only !== 'master')
  throw new Error('--only is gateway or master');
if (
  ![UPLOADERS, MIN_BYTES, NODES, HB_RATE, SECONDS, ROUNDS].every((x) => x > 0) ||
  !(MAX_BYTES >= MIN_BYTES) ||
  !(WARMUP_S >= 0)
)
  throw new Error('bad numeric option');

const TARGET_MB_PER_S = 100;
const TARGET_HEARTBEATS_PER_S = 10_000;
const SEGMENT_MS = 2000;
const MB = 1e6;

const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');

/** Slices of one figure, one entry per round, for each configuration. */
interface Slices {
  value: number[];
  /** CPU of the measured service (% of one core) and of this process (the load). */
  serviceCpu: number[];
  loadCpu: number[];
  extra: Record<string, number[]>;
}
const slices = (): Slices => ({ value: [], serviceCpu: [], loadCpu: [], extra: {} });
const push = (s: Slices, key: string, v: number) => {
  s.extra[key] ??= [];
  s.extra[key].push(v);
};

/** Each round runs every configuration once, the order rotated by one per round. */
async function interleaved<K extends string>(keys: K[], slice: (key: K, round: number) => Promise<void>) {
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...keys.slice(round % keys.length), ...keys.slice(0, round % keys.length)];
    for (const key of order) await slice(key, round);
  }
}

/** CPU of a service and of this process over a window, % of one core. */
async function cpuWindow(service: Service) {
  const [s0, b0] = [await snapshot(service.pid), await snapshot(process.pid)];
  return async () => ({
    service: cpuBetween(s0, await snapshot(service.pid)).total,
    load: cpuBetween(b0, await snapshot(process.pid)).root,
  });
}

/** The protocol and cipher a default Node client gets from a TLS endpoint. */
async function negotiated(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: 'localhost' }, () => {
      const cipher = socket.getCipher();
      resolve(`${socket.getProtocol()} ${cipher.standardName ?? cipher.name}`);
      socket.end();
    });
    socket.on('error', (err) => resolve(`handshake failed: ${err.message}`));
  });
}

// --- 1. gateway segment ingest ------------------------------------------------------------

const GATEWAYS = ['HTTPS', 'plain HTTP'] as const;
type GatewayKey = (typeof GATEWAYS)[number];

/** A camera per configuration, round (`w`: the warm-up) and uploader: every slice new names. */
const camera = (tag: string, round: string, uploader: number) => `${tag}-r${round}-u${uploader}`;

async function gatewayIngest(cleanups: Cleanups, tls: BenchTls, dir: string, dbUrl: string) {
  const tokens = new Map<string, string>();
  for (let u = 0; u < UPLOADERS; u++) {
    const id = `tls-bench-node-${u}`;
    tokens.set(id, (await enrolTestNodeFully(dbUrl, id)).uploadToken);
    // Uploads are taken only from a camera's owner: registered as the master does on a hello.
    const rounds = ['w', ...Array.from({ length: ROUNDS }, (_, r) => String(r))];
    await registerTestCameras(
      dbUrl,
      id,
      ['tls', 'plain'].flatMap((tag) => rounds.map((r) => camera(tag, r, u))),
    );
  }
  // The same footage for both: sizes spread evenly over the range, made and hashed up front.
  const bodies: Body[] = Array.from({ length: 32 }, (_, i) => {
    const data = randomBytes(Math.round(MIN_BYTES + ((MAX_BYTES - MIN_BYTES) * i) / 31));
    return { data, sha256: createHash('sha256').update(data).digest('hex') };
  });
  const meanBytes = bodies.reduce((a, b) => a + b.data.length, 0) / bodies.length;
  const gateways = new Map<GatewayKey, { svc: Service; url: string }>();
  for (const key of GATEWAYS) {
    const tag = key === 'HTTPS' ? 'tls' : 'plain';
    const data = join(dir, `gw-${tag}`);
    await mkdir(join(data, 'nas'), { recursive: true });
    if (o.nas === 'tmpfs') {
      try {
        // tmpfs takes memory only for what it holds; every round's segments stay there.
        const size = Math.floor(Math.min(freemem() * 0.3, 8 * 1024 ** 3));
        await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', join(data, 'nas')]);
        cleanups.add(`unmount ${tag} NAS tmpfs`, () =>
          promisify(execFile)('umount', ['-l', join(data, 'nas')]),
        );
      } catch (err) {
        console.log(`cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}): NAS on this disk`);
      }
    }
    const env = {
      DATABASE_URL: dbUrl,
      GATEWAY_DATA_DIR: data,
      GATEWAY_BUFFER_DIR: join(data, 'buffer'),
      GATEWAY_NAS_DIR: join(data, 'nas'),
      GATEWAY_NAS_REQUIRE_MOUNT: 'false',
      GATEWAY_UPLOAD_AUTH: 'token',
      GATEWAY_NAS_MIN_FREE_PERCENT: '0',
      GATEWAY_RETENTION_INTERVAL_S: '86400',
      LOG_LEVEL: 'warn',
    };
    gateways.set(
      key,
      await startGatewayService(cleanups, `gateway-${tag}`, env, key === 'HTTPS' ? tls : null),
    );
  }
  const httpsUrl = new URL(gateways.get('HTTPS')?.url as string);
  const cipher = await negotiated(httpsUrl.hostname, Number(httpsUrl.port));
  log(
    `gateways up (HTTPS: ${cipher}); ${UPLOADERS} uploaders, ${bodies.length} bodies of ${(MIN_BYTES / MB).toFixed(2)}–${(MAX_BYTES / MB).toFixed(2)} MB (mean ${(meanBytes / MB).toFixed(2)} MB)`,
  );

  const results = new Map<GatewayKey, Slices>(GATEWAYS.map((k) => [k, slices()]));
  const refused: string[] = [];
  const slice = async (key: GatewayKey, round: number, measure: boolean) => {
    const gw = gateways.get(key) as { svc: Service; url: string };
    const t0 = performance.now();
    const runs = Array.from({ length: UPLOADERS }, (_, u) =>
      startUploader({
        url: gw.url,
        camera: camera(key === 'HTTPS' ? 'tls' : 'plain', measure ? String(round) : 'w', u),
        node: `tls-bench-node-${u}`,
        token: tokens.get(`tls-bench-node-${u}`) ?? null,
        bodies,
        bodyOffset: u * 5 + round,
        recordStartMs: Date.now() - 3_600_000,
        segmentMs: SEGMENT_MS,
        paceMs: 0,
        t0,
      }),
    );
    // The connections are made (and their handshakes done) in the warm-up: agents keep theirs.
    await sleep(WARMUP_S * 1000);
    const cpuEnd = await cpuWindow(gw.svc);
    const w0 = performance.now();
    await sleep(SECONDS * 1000);
    const w1 = performance.now();
    const cpu = await cpuEnd();
    await Promise.all(runs.map((r) => r.stop()));
    // Each slice starts with both gateways idle: the NAS mover finishes what this one took.
    await waitFor(
      `${key} gateway backlog moved`,
      async () => ((await (await fetch(`${gw.url}/healthz`)).json()) as { backlog: number }).backlog === 0,
      120_000,
      200,
    );
    if (!measure) return;
    const acked = runs.flatMap((r) => r.acked).filter((a) => a.ackedAt >= w0 && a.ackedAt < w1);
    const secs = (w1 - w0) / 1000;
    const mbPerS = acked.reduce((a, x) => a + x.bytes, 0) / MB / secs;
    const r = results.get(key) as Slices;
    r.value.push(mbPerS);
    r.serviceCpu.push(cpu.service);
    r.loadCpu.push(cpu.load);
    const lat = acked.map((a) => a.ackedAt - a.sentAt);
    push(r, 'put p50 ms', median(lat));
    const hs = runs.map((x) => x.handshakes());
    push(
      r,
      'handshakes',
      hs.reduce((a, h) => a + h.full + h.resumed, 0),
    );
    const refusedNow = mergeRefused(runs);
    if (refusedNow !== 'none') refused.push(`${key} round ${round}: ${refusedNow}`);
    log(
      `  round ${round + 1} ${key}: ${f1(mbPerS)} MB/s, gateway CPU ${f1(cpu.service)} %, uploaders ${f1(cpu.load)} %, TLS handshakes ${hs.reduce((a, h) => a + h.full + h.resumed, 0)}`,
    );
  };
  for (const key of GATEWAYS) await slice(key, 0, false); // warm-up: JIT, first connections
  await interleaved([...GATEWAYS], (key, round) => slice(key, round, true));
  for (const r of refused) log(`refused: ${r}`);
  return { results, cipher, meanBytes };
}

// --- 2. master heartbeat ingest -----------------------------------------------------------

const LISTENERS = ['MQTT over TLS', 'plain MQTT'] as const;
type ListenerKey = (typeof LISTENERS)[number];

async function heartbeatIngest(cleanups: Cleanups, tls: BenchTls, dir: string, dbUrl: string) {
  const db = createPrismaClient(dbUrl, 2);
  cleanups.add('db', () => db.$disconnect());
  const master = await startMasterService(cleanups, tls, {
    DATABASE_URL: dbUrl,
    MASTER_DATA_DIR: join(dir, 'master'),
    LOG_LEVEL: 'warn',
    MASTER_ADMIN_PASSWORD: 'bench-first-secret-42',
    // Both fleets connect from 127.0.0.1 (see master-ingest.ts).
    MQTT_MAX_CONNECTIONS_PER_ADDRESS: String(Math.max(1024, 2 * NODES + 100)),
    MQTT_MAX_CONNECTIONS: String(Math.max(20_000, 2 * NODES + 100)),
  });
  const mqtts = new URL(master.mqtts);
  const cipher = await negotiated(mqtts.hostname, Number(mqtts.port));
  const { secret, enrol } = await fleetEnrolment(db);
  const fleets = new Map<ListenerKey, Awaited<ReturnType<typeof startFleet>>>();
  for (const key of LISTENERS) {
    const prefix = key === 'plain MQTT' ? 'plain' : 'tls';
    await enrol(Array.from({ length: NODES }, (_, i) => `${prefix}-${i + 1}`));
    const t = Date.now();
    const fleet = await startFleet({
      url: key === 'plain MQTT' ? master.mqtt : master.mqtts,
      nodes: NODES,
      camerasPerNode: Number(o.cameras),
      heartbeatS: NODES / HB_RATE,
      eventsPerS: 0,
      prefix,
      password: () => secret,
      heartbeatsPaused: true,
    });
    cleanups.add(`fleet ${key}`, () => fleet.stop());
    fleets.set(key, fleet);
    log(`${NODES} nodes connected over ${key} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  log(`master up (MQTT TLS listener: ${cipher}); heartbeats offered at ${HB_RATE}/s`);
  const heartbeatsSeen = async () =>
    (await (await fetch(`${master.api}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith('cctv_mqtt_messages_total{kind="heartbeat"}'))
      .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);

  const results = new Map<ListenerKey, Slices>(LISTENERS.map((k) => [k, slices()]));
  const slice = async (key: ListenerKey, round: number, measure: boolean) => {
    const fleet = fleets.get(key) as Awaited<ReturnType<typeof startFleet>>;
    fleet.heartbeats(true);
    await sleep(WARMUP_S * 1000);
    const cpuEnd = await cpuWindow(master.svc);
    const seen0 = await heartbeatsSeen();
    const [w0, sent0] = [performance.now(), fleet.stats().heartbeatsSent];
    await sleep(SECONDS * 1000);
    const [w1, sent1] = [performance.now(), fleet.stats().heartbeatsSent];
    const seen1 = await heartbeatsSeen();
    const secs = (w1 - w0) / 1000;
    const cpu = await cpuEnd();
    fleet.heartbeats(false);
    await sleep(1000); // what is still in flight lands before the other fleet's window
    if (!measure) return;
    const accepted = (seen1 - seen0) / secs;
    const r = results.get(key) as Slices;
    r.value.push(accepted);
    r.serviceCpu.push(cpu.service);
    r.loadCpu.push(cpu.load);
    push(r, 'sent /s', (sent1 - sent0) / secs);
    log(
      `  round ${round + 1} ${key}: ${accepted.toFixed(0)} heartbeats/s accepted (${((sent1 - sent0) / secs).toFixed(0)} sent), master CPU ${f1(cpu.service)} %, fleet ${f1(cpu.load)} %`,
    );
  };
  for (const key of LISTENERS) await slice(key, 0, false);
  await interleaved([...LISTENERS], (key, round) => slice(key, round, true));
  for (const fleet of fleets.values()) await fleet.stop();
  return { results, cipher };
}

// --- report -------------------------------------------------------------------------------

interface Row {
  figure: string;
  config: string;
  median: string;
  'min–max': string;
  'ratio to plain': string;
  'service CPU %': string;
  'CPU per unit': string;
  'load CPU %': string;
  target: string;
  result: string;
}

function rows<K extends string>(
  figure: string,
  results: Map<K, Slices>,
  control: K,
  measured: K,
  unit: { digits: number; cpuPer: (cpuPct: number, value: number) => string; target: number; name: string },
): { rows: Row[]; pass: boolean } {
  const floor = median((results.get(control) as Slices).value);
  let pass = true;
  const out = [...results].map(([config, s]) => {
    const m = median(s.value);
    const isMeasured = config === measured;
    if (isMeasured && !(m >= unit.target)) pass = false;
    const fmt = (x: number) => x.toFixed(unit.digits);
    return {
      figure,
      config,
      median: fmt(m),
      'min–max': `${fmt(Math.min(...s.value))}–${fmt(Math.max(...s.value))}`,
      'ratio to plain': config === control ? '1 (control)' : (m / floor).toFixed(3),
      'service CPU %': f1(median(s.serviceCpu)),
      'CPU per unit': unit.cpuPer(median(s.serviceCpu), m),
      'load CPU %': f1(median(s.loadCpu)),
      target: isMeasured ? `≥ ${unit.target.toLocaleString('en')} ${unit.name}` : '—',
      result: isMeasured ? (m >= unit.target ? 'PASS' : 'FAIL') : '—',
    };
  });
  return { rows: out, pass };
}

async function main(cleanups: Cleanups, tls: BenchTls): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-tls-'));
  cleanups.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  const dbUrl = await startDatabase(cleanups, join(dir, 'pg'));
  log(`PostgreSQL up; ${ROUNDS} rounds of ${SECONDS} s per configuration (+ ${WARMUP_S} s warm-up each)`);

  const table: Row[] = [];
  let pass = true;
  const report: Record<string, unknown> = {};
  if (o.only !== 'master') {
    log('1. gateway segment ingest, HTTPS vs plain HTTP');
    const g = await gatewayIngest(cleanups, tls, dir, dbUrl);
    const r = rows('gateway ingest MB/s', g.results, 'plain HTTP', 'HTTPS', {
      digits: 1,
      cpuPer: (cpu, mbPerS) => `${f1((cpu * 10) / mbPerS)} ms/MB`,
      target: TARGET_MB_PER_S,
      name: 'MB/s',
    });
    table.push(...r.rows);
    pass &&= r.pass;
    report.gateway = { cipher: g.cipher, meanBytes: g.meanBytes, results: Object.fromEntries(g.results) };
  }
  if (o.only !== 'gateway') {
    log('2. master heartbeat ingest, MQTT over TLS vs plain MQTT');
    const m = await heartbeatIngest(cleanups, tls, dir, dbUrl);
    const r = rows('master heartbeats/s', m.results, 'plain MQTT', 'MQTT over TLS', {
      digits: 0,
      cpuPer: (cpu, perS) => `${f1((cpu * 1e4) / perS)} µs/hb`,
      target: TARGET_HEARTBEATS_PER_S,
      name: '/s',
    });
    table.push(...r.rows);
    pass &&= r.pass;
    report.master = { cipher: m.cipher, results: Object.fromEntries(m.results) };
  }

  console.log(
    `\nTLS cost: median over ${ROUNDS} interleaved rounds of ${SECONDS} s; gateway: ${UPLOADERS} keep-alive uploaders, ${(MIN_BYTES / MB).toFixed(2)}–${(MAX_BYTES / MB).toFixed(2)} MB segments; master: ${NODES} nodes per fleet, ${HB_RATE} heartbeats/s offered`,
  );
  console.log(
    'service CPU: the gateway / master process tree; CPU per unit: its CPU per MB / heartbeat; load CPU: this process (uploaders / fleet), % of one core',
  );
  console.table(table);
  const out = join(tmpdir(), 'cctv-bench', `tls-cost-${new Date().toISOString().replaceAll(':', '')}.json`);
  await mkdir(join(tmpdir(), 'cctv-bench'), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify(
      {
        bench: 'tls-cost',
        at: new Date().toISOString(),
        host: { hostname: hostname(), cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
        options: o,
        table,
        ...report,
      },
      null,
      2,
    )}\n`,
  );
  log(`JSON: ${out}`);
  if (pass) return 0;
  console.log('FAIL: a target is not met with TLS');
  return 1;
}

runBench(log, main);
