/**
 * Node agent under faults, every part real and in its own process: a real RTSP camera
 * (gst-rtsp-server), the storage gateway on embedded PostgreSQL, an MQTT broker, and the agent.
 * Each test ends by checking that every segment the agent finished is indexed at the gateway
 * with the same sha256 as in the agent's spool: nothing recorded is lost.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import { type HeartbeatMessage, topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import { scanCameraSpool } from '../../node-agent/src/spool/scan.ts';
import { compareSegmentNames } from '../../node-agent/src/spool/segment.ts';
import { startBroker } from '../../node-agent/test/broker.ts';
import { enrolTestNodeFully, registerTestCameras } from '../support/enrol.ts';
import {
  freePort,
  onCleanup,
  processAlive,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
} from '../support/index.ts';
import { ensureRtspServerAvailable, type RtspServer, startRtspServer } from '../support/rtsp-server.ts';
import { startThrottleProxy, type ThrottleProxy } from '../support/throttle-proxy.ts';

const SEGMENT_S = 2;
const GATEWAY_OUTAGE_MS = Number(process.env.FAULT_GATEWAY_OUTAGE_MS ?? 120_000);

interface Harness {
  dir: string;
  dbUrl: string;
  /** The gateway's own role. */
  gatewayDbUrl: string;
  brokerUrl: string;
  camera: RtspServer;
  gatewayPort: number;
  gateway: ServiceProcess | null;
  heartbeats: Map<string, HeartbeatMessage[]>;
}

const h = {} as Harness;

function startGateway(): ServiceProcess {
  const gw = startService('storage-gateway/src/main.ts', {
    DATABASE_URL: h.gatewayDbUrl,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(h.gatewayPort),
    GATEWAY_DATA_DIR: join(h.dir, 'gateway'),
    GATEWAY_NAS_DIR: join(h.dir, 'nas'),
  });
  h.gateway = gw;
  return gw;
}

async function gatewayUp(): Promise<void> {
  const gw = h.gateway ?? startGateway();
  await waitFor(
    'gateway healthy',
    async () => (await fetch(`https://127.0.0.1:${h.gatewayPort}/healthz`)).ok,
    60_000,
    200,
  ).catch((err) => {
    throw new Error(`${err.message}\n${gw.output().slice(-4000)}`);
  });
}

async function gatewayDown(): Promise<void> {
  await h.gateway?.kill('SIGTERM');
  h.gateway = null;
}

interface AgentOptions {
  nodeId: string;
  cameraId: string;
  gatewayUrl?: string;
  quotaBytes?: number;
  httpPort?: number;
}

/** Enrols the node (its upload token for the gateway) and writes its agent config. */
async function writeAgentConfig(o: AgentOptions): Promise<string> {
  const base = join(h.dir, o.nodeId);
  const file = join(h.dir, `${o.nodeId}.yaml`);
  const { uploadToken } = await enrolTestNodeFully(h.dbUrl, o.nodeId);
  // No master here: the camera is registered to the node as its hello would.
  await registerTestCameras(h.dbUrl, o.nodeId, [o.cameraId]);
  await writeFile(
    file,
    [
      `nodeId: ${o.nodeId}`,
      `mqtt: { url: "${h.brokerUrl}" }`,
      `gateway: { url: "${o.gatewayUrl ?? `https://127.0.0.1:${h.gatewayPort}`}", token: "${uploadToken}" }`,
      `spool: { dir: "${join(base, 'spool')}", quotaBytes: ${o.quotaBytes ?? 1024 ** 3}, minFreeBytes: 0 }`,
      `stateDir: "${join(base, 'state')}"`,
      'heartbeatIntervalS: 1',
      `segmentSeconds: ${SEGMENT_S}`,
      'recorder: { stallTimeoutS: 6, backoffInitialMs: 250, backoffMaxMs: 1000 }',
      ...(o.httpPort ? [`httpPort: ${o.httpPort}`] : []),
      // Never the fixed default live port: these agents run side by side.
      'live: { jsmpeg: { port: 0 } }',
      'cameras:',
      `  - { id: ${o.cameraId}, name: Fault camera, url: "${h.camera.url}" }`,
      '',
    ].join('\n'),
  );
  return file;
}

function startAgent(config: string): ServiceProcess {
  return startService('node-agent/src/main.ts', { LOG_LEVEL: 'debug' }, ['--config', config]);
}

function cameraBeat(nodeId: string, cameraId: string) {
  return h.heartbeats
    .get(nodeId)
    ?.at(-1)
    ?.cameras.find((c) => c.id === cameraId);
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** Every segment finished in the agent's spool is at the gateway with the same sha256. */
async function assertNothingLost(nodeId: string, cameraId: string): Promise<number> {
  const db = createPrismaClient(h.dbUrl, 2);
  onCleanup(() => db.$disconnect());
  const spool = await scanCameraSpool(join(h.dir, nodeId, 'spool'), cameraId);
  assert.ok(spool.length > 0, 'the agent recorded something');
  const rows = await waitFor(
    `all ${spool.length} segments of ${cameraId} indexed`,
    async () => {
      const found = await db.segment.findMany({ where: { cameraId, name: { endsWith: '.m4s' } } });
      return found.length >= spool.length ? found : null;
    },
    90_000,
    500,
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const missing: string[] = [];
  for (const s of spool) {
    const row = byName.get(s.name);
    if (!row) missing.push(s.name);
    else assert.equal(row.sha256, await sha256(s.path), `${s.name}: sha256 at the gateway`);
  }
  assert.deepEqual(missing, [], 'segments missing at the gateway');
  return spool.length;
}

describe('node agent under faults', () => {
  before(async () => {
    await ensureRtspServerAvailable();
    h.dir = await tempDir('cctv-faults-');
    const db = await startTestDatabase();
    h.dbUrl = db.url;
    h.gatewayDbUrl = db.gateway;
    const broker = await startBroker();
    h.brokerUrl = broker.url;
    h.heartbeats = new Map();
    const watcher = mqtt.connect(broker.url, { clientId: 'fault-watcher' });
    onCleanup(() => watcher.endAsync(true));
    await new Promise<void>((resolve) => watcher.once('connect', () => resolve()));
    await watcher.subscribeAsync(topics.heartbeat('+'));
    watcher.on('message', (topic, payload) => {
      const node = topic.split('/')[3] ?? '';
      const list = h.heartbeats.get(node) ?? [];
      list.push(JSON.parse(payload.toString()) as HeartbeatMessage);
      h.heartbeats.set(node, list.slice(-50));
    });
    // An H.265 camera: recorded with -c copy, so the agents cost next to no CPU here.
    h.camera = await startRtspServer({ codec: 'h265', width: 320, height: 180, fps: 10, gop: 20 });
    h.gatewayPort = await freePort();
    await gatewayUp();
  });

  it(`loses nothing while the gateway is down for ${GATEWAY_OUTAGE_MS / 1000} s`, async () => {
    const o = { nodeId: 'fault-gw', cameraId: 'cam-gw' };
    const agent = startAgent(await writeAgentConfig(o));
    await waitFor(
      '2 segments uploaded',
      () => (cameraBeat(o.nodeId, o.cameraId)?.segmentsRecorded ?? 0) >= 2,
      30_000,
    );
    await gatewayDown();
    const downAt = Date.now();
    await waitFor(
      'a backlog builds',
      () => (cameraBeat(o.nodeId, o.cameraId)?.backlogFiles ?? 0) >= 3,
      30_000,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, GATEWAY_OUTAGE_MS - (Date.now() - downAt))));
    const backlog = cameraBeat(o.nodeId, o.cameraId)?.backlogFiles ?? 0;
    assert.ok(
      backlog >= GATEWAY_OUTAGE_MS / 1000 / SEGMENT_S - 3,
      `backlog of ${backlog} segments after the outage`,
    );
    assert.equal(cameraBeat(o.nodeId, o.cameraId)?.state, 'recording', 'recording never stopped');
    await gatewayUp();
    await waitFor('backlog drained', () => cameraBeat(o.nodeId, o.cameraId)?.backlogFiles === 0, 90_000);
    await agent.kill('SIGTERM');
    const n = await assertNothingLost(o.nodeId, o.cameraId);
    assert.ok(n >= GATEWAY_OUTAGE_MS / 1000 / SEGMENT_S, `${n} segments`);
  });

  it('loses nothing when the agent is SIGKILLed in the middle of an upload and restarted', async () => {
    const o = { nodeId: 'fault-kill', cameraId: 'cam-kill' };
    // A slow link makes an upload last long enough to be cut.
    const proxy: ThrottleProxy = await startThrottleProxy({
      target: h.gatewayPort,
      bytesPerSecond: 8 * 1024,
    });
    const config = await writeAgentConfig({ ...o, gatewayUrl: proxy.url });
    const agent = startAgent(config);
    await waitFor(
      'an upload in flight',
      () => proxy.activeUploads() > 0 && proxy.bytesThisUpload() > 2048,
      60_000,
    );
    const ffmpegPid = Number(
      (await readFile(join(h.dir, o.nodeId, 'spool', o.cameraId, 'ffmpeg.pid'), 'utf8')).trim(),
    );
    await agent.kill('SIGKILL');
    await waitFor('its ffmpeg ends with it', () => !processAlive(ffmpegPid), 10_000);
    proxy.setRate(0); // full speed from now on
    const again = startAgent(config);
    await waitFor(
      'recording again, backlog drained',
      () => {
        const c = cameraBeat(o.nodeId, o.cameraId);
        return c?.state === 'recording' && c.backlogFiles === 0 && again.child.exitCode === null;
      },
      60_000,
    );
    await again.kill('SIGTERM');
    await assertNothingLost(o.nodeId, o.cameraId);
  });

  it('reports reconnecting then recording when the camera restarts, with a gap of at most the outage plus one segment', async () => {
    const o = { nodeId: 'fault-cam', cameraId: 'cam-cam' };
    const agent = startAgent(await writeAgentConfig(o));
    await waitFor(
      'recording',
      () =>
        cameraBeat(o.nodeId, o.cameraId)?.state === 'recording' &&
        (cameraBeat(o.nodeId, o.cameraId)?.segmentsRecorded ?? 0) >= 2,
      30_000,
    );
    const downAt = Date.now();
    await h.camera.stop('SIGKILL');
    const reconnecting = await waitFor(
      'reconnecting',
      () => {
        const c = cameraBeat(o.nodeId, o.cameraId);
        return c?.state === 'reconnecting' ? c : null;
      },
      30_000,
    );
    assert.ok(reconnecting.reason, 'with a reason');
    await new Promise((r) => setTimeout(r, 5000));
    await h.camera.restart();
    const upAt = Date.now();
    await waitFor('recording again', () => cameraBeat(o.nodeId, o.cameraId)?.state === 'recording', 60_000);
    const recoveredMs = Date.now() - upAt;
    await new Promise((r) => setTimeout(r, 2 * SEGMENT_S * 1000));
    await agent.kill('SIGTERM');
    await assertNothingLost(o.nodeId, o.cameraId);
    const spool = await scanCameraSpool(join(h.dir, o.nodeId, 'spool'), o.cameraId);
    let worst = 0;
    for (let i = 1; i < spool.length; i++) {
      const prev = spool[i - 1];
      const cur = spool[i];
      if (prev && cur)
        worst = Math.max(worst, cur.startAt.getTime() - (prev.startAt.getTime() + prev.durationMs));
    }
    const outageMs = upAt - downAt;
    console.log(
      `camera outage ${outageMs} ms, footage gap ${worst} ms, recording again ${recoveredMs} ms after the camera`,
    );
    assert.ok(
      worst <= outageMs + SEGMENT_S * 1000,
      `gap ${worst} ms for an outage of ${outageMs} ms (camera down at ${new Date(downAt).toISOString()}, ` +
        `up at ${new Date(upAt).toISOString()})\n${timeline(agent, spool)}`,
    );
  });

  it('at the spool quota drops un-uploaded segments only after the uploaded ones are gone, and reports it', async () => {
    const o = { nodeId: 'fault-quota', cameraId: 'cam-quota' };
    const metricsPort = await freePort();
    // About 40 KB per segment: a 320 KiB quota fills in a few segments.
    const config = await writeAgentConfig({ ...o, quotaBytes: 320 * 1024, httpPort: metricsPort });
    const agent = startAgent(config);
    await waitFor(
      '3 segments uploaded',
      () => {
        const c = cameraBeat(o.nodeId, o.cameraId);
        return c && c.segmentsRecorded >= 3 && c.backlogFiles === 0;
      },
      40_000,
    );
    await gatewayDown();
    const dir = join(h.dir, o.nodeId, 'spool', o.cameraId);
    const first = await waitFor(
      'a dropped segment',
      () => (cameraBeat(o.nodeId, o.cameraId)?.droppedSegments ?? 0) > 0,
      60_000,
      100,
    );
    assert.ok(first);
    const state = JSON.parse(await readFile(join(dir, 'upload-state.json'), 'utf8')) as {
      lastUploaded: string;
    };
    const onDisk = (await readdir(dir)).filter((f) => f.endsWith('.m4s'));
    const uploadedLeft = onDisk.filter((f) => compareSegmentNames(f, state.lastUploaded) <= 0);
    assert.deepEqual(uploadedLeft, [], 'every uploaded segment was removed before the first drop');
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(
      metrics,
      new RegExp(`cctv_agent_segments_dropped_total\\{camera="${o.cameraId}"[^}]*\\} [1-9]`),
    );
    assert.match(agent.output(), /spool full: dropped a segment that was never uploaded/);
    await gatewayUp();
    await waitFor('backlog drained', () => cameraBeat(o.nodeId, o.cameraId)?.backlogFiles === 0, 60_000);
    await agent.kill('SIGTERM');
    await assertNothingLost(o.nodeId, o.cameraId);
  });
});

/** The agent's camera log lines and the spool's segments, in time order, to explain a failure. */
function timeline(
  agent: ServiceProcess,
  spool: { name: string; startAt: Date; durationMs: number }[],
): string {
  const lines = agent
    .output()
    .split('\n')
    .filter((l) => l.includes('"cameraId"'))
    .map((l) => {
      try {
        const doc = JSON.parse(l) as {
          time: number;
          msg: string;
          state?: string;
          reason?: string;
          detail?: string;
        };
        return `${new Date(doc.time).toISOString()} ${doc.msg} ${doc.state ?? ''} ${doc.reason ?? doc.detail ?? ''}`;
      } catch {
        return l;
      }
    });
  const segs = spool.map((s) => `${s.startAt.toISOString()} segment ${s.name} ${s.durationMs} ms`);
  return [...lines, ...segs].sort().join('\n');
}
