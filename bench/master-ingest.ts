/**
 * The master under a simulated fleet (bench/fleet-sim.ts: real MQTT, real protocol, no video),
 * as its own process with embedded broker (node logins on) and a real PostgreSQL:
 *   1. heartbeat ingest: N nodes heartbeating fast enough for --hb-rate heartbeats/s; accepted
 *      rate, how far the stored heartbeats lag (now − newest lastHeartbeatAt), master CPU;
 *   2. the fleet page API (`GET /api/nodes`) with N nodes × cameras;
 *   3. event ingest: --event-rate events/s with publish → dashboard websocket latency, then
 *      --event-max-rate events/s stored;
 *   4. search: --search-events generated rows, `GET /api/events` for one camera and 24 h, p95.
 *
 *   node --import tsx bench/master-ingest.ts [--nodes 1000] [--cameras 4] [--hb-rate 10000]
 *       [--seconds 20] [--event-rate 500] [--event-max-rate 2000] [--search-events 10000000]
 *       [--mqtt tls|plain]   (the fleet on the broker's TLS listener, as deployed, or its loopback one)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import type { FleetSocketMessage } from '@cctv/protocol';
import WebSocket from 'ws';
import { signIn } from '../test/support/api-session.ts';
import { startFleet } from './fleet-sim.ts';
import { cpuBetween, snapshot } from './proc-tree.ts';
import {
  type BenchTls,
  type Cleanups,
  fleetEnrolment,
  pct,
  runBench,
  sleep,
  startDatabase,
  startMasterService,
  waitFor,
} from './support.ts';

const BENCH_ADMIN_PASSWORD = 'bench-first-secret-42';

const { values: o } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    cameras: { type: 'string', default: '4' },
    'hb-rate': { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '20' },
    'event-rate': { type: 'string', default: '500' },
    'event-max-rate': { type: 'string', default: '2000' },
    'search-events': { type: 'string', default: '10000000' },
    mqtt: { type: 'string', default: 'tls' },
  },
});
if (o.mqtt !== 'tls' && o.mqtt !== 'plain') throw new Error('--mqtt is tls or plain');
const N = Number(o.nodes);
const CAMS = Number(o.cameras);
const SECONDS = Number(o.seconds);
const began = Date.now();
const log = (line: string) =>
  console.log(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

async function metricSum(url: string, prefix: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
}

async function main(cleanups: Cleanups, tls: BenchTls): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cctv-bench-master-'));
  cleanups.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
  const dbUrl = await startDatabase(cleanups, join(dir, 'pg'));
  const db = createPrismaClient(dbUrl, 4);
  cleanups.add('db', () => db.$disconnect());
  const master = await startMasterService(cleanups, tls, {
    DATABASE_URL: dbUrl,
    MASTER_DATA_DIR: join(dir, 'master'),
    LOG_LEVEL: 'warn',
    MASTER_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
    // Every simulated agent connects from 127.0.0.1: room for the whole fleet on one address
    // (the defaults hold 1,024), which a real fleet spread over its hosts never needs.
    MQTT_MAX_CONNECTIONS_PER_ADDRESS: String(Math.max(1024, N + 100)),
    MQTT_MAX_CONNECTIONS: String(Math.max(20_000, N + 100)),
  });
  const { api } = master;
  // The API needs a session: the bench reads as the first admin (sees every camera).
  const session = await signIn(api, 'admin', BENCH_ADMIN_PASSWORD);
  const authed = { headers: { cookie: session.cookie } };
  // Nodes reach the master over TLS, as deployed; `--mqtt plain`: its loopback listener.
  const url = o.mqtt === 'plain' ? master.mqtt : master.mqtts;

  // Enrolment shortcut for 1,000 nodes: one secret for all, its hash stored for each.
  const { secret, enrol } = await fleetEnrolment(db);
  await enrol(Array.from({ length: N }, (_, i) => `sim-${i + 1}`));

  // 1. heartbeats
  let t = Date.now();
  const fleet = await startFleet({
    url,
    nodes: N,
    camerasPerNode: CAMS,
    heartbeatS: N / Number(o['hb-rate']),
    eventsPerS: 0,
    password: () => secret,
  });
  cleanups.add('fleet', () => fleet.stop());
  log(
    `${N} nodes × ${CAMS} cameras connected in ${((Date.now() - t) / 1000).toFixed(1)} s (each login checked against its scrypt hash)`,
  );
  await sleep(5000);
  const hb0 = await metricSum(api, 'cctv_mqtt_messages_total{kind="heartbeat"}');
  const sent0 = fleet.stats().heartbeatsSent;
  const cpu0 = await snapshot(master.svc.pid);
  t = Date.now();
  const lags: number[] = [];
  while (Date.now() - t < SECONDS * 1000) {
    await sleep(1000);
    const [row] = await db.$queryRawUnsafe<{ lag: number }[]>(
      `SELECT EXTRACT(EPOCH FROM (now() - max("lastHeartbeatAt")))::float8 AS lag FROM "Node"`,
    );
    lags.push(row?.lag ?? Number.NaN);
  }
  const secs = (Date.now() - t) / 1000;
  const cpu = cpuBetween(cpu0, await snapshot(master.svc.pid));
  const accepted = ((await metricSum(api, 'cctv_mqtt_messages_total{kind="heartbeat"}')) - hb0) / secs;
  const sent = (fleet.stats().heartbeatsSent - sent0) / secs;
  const heartbeatRow = {
    'sent /s': Math.round(sent),
    'accepted /s': Math.round(accepted),
    'newest stored lag s (max)': Math.max(...lags).toFixed(2),
    'master CPU %': cpu.total.toFixed(0),
    target: '≥ 10,000/s, no growing lag',
  };

  // 2. fleet page
  const pageMs: number[] = [];
  let bytes = 0;
  let shown = { nodes: 0, cameras: 0, withHeartbeat: 0 };
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const body = await (await fetch(`${api}/api/nodes`, authed)).text();
    pageMs.push(performance.now() - t0);
    bytes = body.length;
    const page = JSON.parse(body) as { cameras: unknown[]; heartbeat: unknown }[];
    shown = {
      nodes: page.length,
      cameras: page.reduce((n, x) => n + x.cameras.length, 0),
      withHeartbeat: page.filter((x) => x.heartbeat !== null).length,
    };
  }
  await fleet.stop();
  // Let the disconnect wave (1,000 last wills: offline status writes) pass first.
  await waitFor(
    'every node offline',
    async () => (await db.node.count({ where: { state: 'online' } })) === 0,
    60_000,
    500,
  ).catch(() => log('not every node went offline within 60 s'));
  const pageIdleMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await (await fetch(`${api}/api/nodes`, authed)).text();
    pageIdleMs.push(performance.now() - t0);
  }

  // 3. events: latency at --event-rate, then throughput at --event-max-rate
  const eventNodes = 50;
  await enrol(Array.from({ length: eventNodes }, (_, i) => `ev-${i + 1}`));
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const ws = new WebSocket(`${api.replace(/^http/, 'ws')}/ws`, authed);
  cleanups.add('ws', () => ws.close());
  await new Promise((r) => ws.once('open', r));
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as FleetSocketMessage;
    if (msg.type !== 'event') return;
    const at = sentAt.get(`${msg.event.id}:${msg.event.lastSeq}`);
    if (at !== undefined) latencies.push(Date.now() - at);
  });
  const eventRun = async (rate: number, seconds = SECONDS) => {
    const stored0 = await db.event.count();
    const f = await startFleet({
      url,
      nodes: eventNodes,
      camerasPerNode: CAMS,
      prefix: 'ev',
      heartbeatS: 5,
      eventsPerS: rate,
      password: () => secret,
      onEventSent: (m, at) => sentAt.set(`${m.id}:${m.seq}`, at),
    });
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const sentEvents = f.stats().eventsSent;
    await f.stop();
    await waitFor(
      'events stored',
      async () => (await db.event.count()) - stored0 >= sentEvents,
      60_000,
      250,
    ).catch(() => {});
    const stored = (await db.event.count()) - stored0;
    return { sentEvents, stored, seconds: (Date.now() - t0) / 1000 };
  };
  // Warm-up, not measured: the master's first events compile its event path (validators,
  // queries, JIT) and the 50 event nodes' first hellos land; a long-running master has done
  // both long before.
  await eventRun(Number(o['event-rate']), 3);
  latencies.length = 0;
  const slow = await eventRun(Number(o['event-rate']));
  const lat = [...latencies];
  latencies.length = 0;
  const fast = await eventRun(Number(o['event-max-rate']));
  const dropped = await metricSum(api, 'cctv_events_dropped_total');

  // 4. search over generated events (--search-events 0 skips it)
  const total = Number(o['search-events']);
  const cameras = 1000;
  t = Date.now();
  for (let from = 0; from < total; from += 1_000_000) {
    const to = Math.min(total, from + 1_000_000);
    await db.$executeRawUnsafe(
      `INSERT INTO "Event" (id, "nodeId", "cameraId", type, "startedAt", "endedAt", "lastAt", score, "bestAt", boxes, zones, frames, "lastSeq")
       SELECT gen_random_uuid(), 'gen-node', 'gen-cam-' || (i % ${cameras}), CASE WHEN i % 3 = 0 THEN 'face' ELSE 'motion' END,
              ts, ts + interval '5 s', ts + interval '5 s', (i % 100) / 100.0, ts, '[]'::jsonb, '{}', 10, 2
         FROM generate_series(${from}, ${to - 1}) AS i, LATERAL (SELECT now() - i * interval '300 ms' AS ts) AS x`,
    );
    log(`generated ${to.toLocaleString()} events`);
  }
  const genS = (Date.now() - t) / 1000;
  await db.$executeRawUnsafe('ANALYZE "Event"');
  const spanDays = (total * 0.3) / 86_400;
  const searchMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    const end = Date.now() - Math.random() * Math.max(0, spanDays - 1) * 86_400_000;
    const q = new URLSearchParams({
      cameras: `gen-cam-${i % cameras}`,
      from: new Date(end - 86_400_000).toISOString(),
      to: new Date(end).toISOString(),
      limit: '50',
    });
    const t0 = performance.now();
    const res = await fetch(`${api}/api/events?${q}`, authed);
    await res.json();
    searchMs.push(performance.now() - t0);
  }

  console.log(
    `\nHeartbeat ingest (embedded broker, node logins on, MQTT ${o.mqtt === 'plain' ? 'plain' : 'over TLS'})`,
  );
  console.table([heartbeatRow]);
  console.log(
    `Fleet page GET /api/nodes: ${N} nodes × ${CAMS} cameras, ${(bytes / 1e6).toFixed(2)} MB; the last page showed ${shown.nodes} nodes, ${shown.cameras} cameras, ${shown.withHeartbeat} with a heartbeat`,
  );
  console.table([
    {
      load: `during ${Math.round(sent)} heartbeats/s`,
      'p50 ms': pct(pageMs, 50).toFixed(0),
      'p95 ms': pct(pageMs, 95).toFixed(0),
      target: '≤ 1000 ms',
    },
    {
      load: 'idle',
      'p50 ms': pct(pageIdleMs, 50).toFixed(0),
      'p95 ms': pct(pageIdleMs, 95).toFixed(0),
      target: '≤ 1000 ms',
    },
  ]);
  console.log('Event ingest (start + end message per event) and publish → websocket latency');
  console.table([
    {
      'rate /s': Number(o['event-rate']),
      sent: slow.sentEvents,
      stored: slow.stored,
      'ws p50 ms': pct(lat, 50).toFixed(0),
      'ws p99 ms': pct(lat, 99).toFixed(0),
      target: 'p99 ≤ 100 ms',
    },
    {
      'rate /s': Number(o['event-max-rate']),
      sent: fast.sentEvents,
      stored: fast.stored,
      'stored /s': Math.round(fast.stored / SECONDS),
      dropped,
      target: '≥ 2,000/s stored',
    },
  ]);
  if (total === 0) return;
  console.log(
    `Search: ${total.toLocaleString()} events generated in ${genS.toFixed(0)} s over ${cameras} cameras (${spanDays.toFixed(0)} days)`,
  );
  console.table([
    {
      query: 'one camera, 24 h, limit 50',
      'p50 ms': pct(searchMs, 50).toFixed(1),
      'p95 ms': pct(searchMs, 95).toFixed(1),
      target: 'p95 ≤ 50 ms',
    },
  ]);
}

runBench(log, main);
