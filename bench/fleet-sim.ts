/**
 * A fleet of simulated agents speaking the real MQTT protocol, without video: each node connects
 * as `agent-<id>` (with credentials when given) with the offline status as its last will,
 * publishes its retained online status and a hello with its cameras, then heartbeats every
 * `heartbeatS` and, fleet-wide, `eventsPerS` motion/face events (start, then end) spread over
 * the cameras. Every payload passes the protocol validators, as a real agent's must.
 *
 * As a module: `startFleet(options)`. As a script, to load a running master by hand:
 *   node --import tsx bench/fleet-sim.ts --url mqtts://127.0.0.1:8883 --nodes 100 [--cameras 4]
 *       [--heartbeat-s 5] [--events-per-s 10] [--seconds 60]
 *   (MQTT_AUTH=off on the master, or enrol the nodes and pass --password-file with id:secret lines;
 *   for mqtts:// with a private CA, NODE_EXTRA_CA_CERTS=<its ca.crt>)
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type EventMessage,
  type HeartbeatMessage,
  type HelloMessage,
  PROTOCOL_VERSION,
  type StatusMessage,
  topics,
  validators,
} from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';

export interface FleetOptions {
  url: string;
  nodes: number;
  camerasPerNode: number;
  heartbeatS: number;
  /** Events per second over the whole fleet (each one a start and an end message). */
  eventsPerS: number;
  /** Node ids: `<prefix>-<n>`. */
  prefix?: string;
  /** The node's MQTT password, or undefined to connect without credentials. */
  password?: (nodeId: string) => string | undefined;
  /** Connections opened at once while the fleet comes up. */
  connectBatch?: number;
  /** Called with each event message just before it is published (for latency measurement). */
  onEventSent?: (message: EventMessage, sentAt: number) => void;
  /** Connect without heartbeating until `heartbeats(true)` (fleets measured in turns). */
  heartbeatsPaused?: boolean;
}

export interface Fleet {
  nodeIds: string[];
  cameraIds: string[];
  stats(): { heartbeatsSent: number; eventsSent: number; publishErrors: number; connected: number };
  /** Stops or resumes heartbeating; a resumed fleet owes nothing for the pause. */
  heartbeats(on: boolean): void;
  /** Sends these nodes' online status and hello again (what an agent sends on each connect). */
  announce(nodeIds: string[]): Promise<void>;
  stop(): Promise<void>;
}

const iso = (ms: number) => new Date(ms).toISOString();

function hello(nodeId: string, cameras: string[]): HelloMessage {
  return {
    protocolVersion: PROTOCOL_VERSION as 1,
    nodeId,
    agentVersion: '0.1.0-sim',
    at: iso(Date.now()),
    host: { hostname: nodeId, platform: 'linux', arch: 'arm64', cpus: 4, memTotalBytes: 4 * 1024 ** 3 },
    capabilities: { ffmpegVersion: '5.1-sim', hwEncoders: [] },
    cameras: cameras.map((id, i) => ({
      id,
      name: `Simulated ${i + 1}`,
      codec: 'hevc',
      width: 1920,
      height: 1080,
      fps: 15,
      simulated: true,
      recording: { mode: 'copy', encoder: 'copy', reason: 'simulated' },
    })),
  };
}

function heartbeat(seq: number, cameras: string[]): HeartbeatMessage {
  const now = Date.now();
  return {
    seq,
    at: iso(now),
    uptimeS: seq,
    cpu: { percent: 12, load1: 0.4 },
    mem: { rssBytes: 150e6, totalBytes: 4e9, freeBytes: 3e9 },
    tempC: 48,
    disk: { spoolFreeBytes: 20e9, spoolUsedBytes: 1e9 },
    cameras: cameras.map((id) => ({
      id,
      state: 'recording',
      fps: 15,
      bitrateKbps: 3500,
      lastSegmentAt: iso(now - 1000),
      segmentsRecorded: seq,
      backlogFiles: 0,
      backlogBytes: 0,
    })),
  };
}

function event(cameraId: string, id: string, seq: number, startedAt: number): EventMessage {
  const now = Date.now();
  return {
    id,
    seq,
    type: seq % 2 === 0 ? 'motion' : 'face',
    phase: seq === 0 ? 'start' : 'end',
    cameraId,
    startedAt: iso(startedAt),
    at: iso(now),
    ...(seq > 0 ? { endedAt: iso(now) } : {}),
    boxes: [{ x: 0.2, y: 0.3, w: 0.1, h: 0.2, score: 0.8 }],
    score: 0.8,
    bestAt: iso(startedAt),
    frames: 5 + seq,
  };
}

function check<T>(what: string, v: { check(x: unknown): x is T }, value: unknown): void {
  if (!v.check(value)) throw new Error(`simulated ${what} does not match the protocol`);
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const prefix = o.prefix ?? 'sim';
  const nodeIds = Array.from({ length: o.nodes }, (_, i) => `${prefix}-${i + 1}`);
  const camerasOf = (nodeId: string) =>
    Array.from({ length: o.camerasPerNode }, (_, c) => `${nodeId}-cam-${c + 1}`);
  const clients = new Map<string, MqttClient>();
  let heartbeatsSent = 0;
  let eventsSent = 0;
  let publishErrors = 0;
  const timers: NodeJS.Timeout[] = [];
  const failed = () => {
    publishErrors++;
  };

  /** The retained online status and the hello, as an agent sends them once connected. */
  const announce = async (nodeId: string, client: MqttClient) => {
    const online: StatusMessage = { state: 'online', at: iso(Date.now()), agentVersion: '0.1.0-sim' };
    check('status', validators.status, online);
    await client.publishAsync(topics.status(nodeId), JSON.stringify(online), { qos: 1, retain: true });
    const h = hello(nodeId, camerasOf(nodeId));
    check('hello', validators.hello, h);
    await client.publishAsync(topics.hello(nodeId), JSON.stringify(h), { qos: 1 });
  };

  const connect = async (nodeId: string) => {
    const offline: StatusMessage = { state: 'offline', at: iso(Date.now()), agentVersion: '0.1.0-sim' };
    const password = o.password?.(nodeId);
    const client = await mqtt.connectAsync(o.url, {
      clientId: `agent-${nodeId}`,
      clean: false,
      keepalive: 30,
      reconnectPeriod: 1000,
      ...(password !== undefined ? { username: nodeId, password } : {}),
      will: {
        topic: topics.status(nodeId),
        payload: Buffer.from(JSON.stringify(offline)),
        qos: 1,
        retain: true,
      },
    });
    clients.set(nodeId, client);
    await announce(nodeId, client);
  };
  // One address for the whole fleet: a batch stays under the master's MQTT_MAX_PENDING_PER_ADDRESS
  // (64 by default), logins not yet answered from one address.
  const batch = o.connectBatch ?? 50;
  for (let i = 0; i < nodeIds.length; i += batch) await Promise.all(nodeIds.slice(i, i + batch).map(connect));

  // Heartbeats: a tick every 10 ms sends what the rate (nodes / interval) owes so far, round
  // robin over the nodes, so every node beats once per interval on its own phase. Counting
  // what is owed, not re-arming a timer per node, keeps the rate exact on a busy box (1,000
  // intervals drift by the time their callbacks run late).
  const seqs = new Map<string, number>();
  const hbRate = nodeIds.length / o.heartbeatS;
  let hbBegan = Date.now();
  let hbOwed = 0;
  let hbNext = 0;
  let hbOn = !o.heartbeatsPaused;
  timers.push(
    setInterval(() => {
      if (!hbOn) return;
      const due = Math.floor(((Date.now() - hbBegan) / 1000) * hbRate) - hbOwed;
      for (let k = 0; k < due; k++) {
        hbOwed++;
        const nodeId = nodeIds[hbNext++ % nodeIds.length] as string;
        const seq = (seqs.get(nodeId) ?? 0) + 1;
        seqs.set(nodeId, seq);
        const client = clients.get(nodeId);
        if (!client?.connected) continue;
        client.publish(topics.heartbeat(nodeId), JSON.stringify(heartbeat(seq, camerasOf(nodeId))), {
          qos: 0,
        });
        heartbeatsSent++;
      }
    }, 10),
  );

  // Events: a tick every 10 ms sends what the rate owes so far, round robin over cameras.
  const cameraIds = nodeIds.flatMap(camerasOf);
  if (o.eventsPerS > 0) {
    const began = Date.now();
    let owed = 0;
    let next = 0;
    timers.push(
      setInterval(() => {
        const due = Math.floor(((Date.now() - began) / 1000) * o.eventsPerS) - owed;
        for (let k = 0; k < due; k++) {
          owed++;
          const cameraId = cameraIds[next++ % cameraIds.length] as string;
          const nodeId = cameraId.slice(0, cameraId.lastIndexOf('-cam-'));
          const client = clients.get(nodeId);
          if (!client?.connected) continue;
          const id = randomUUID();
          const startedAt = Date.now();
          for (const seq of [0, 1]) {
            const m = event(cameraId, id, seq, startedAt);
            o.onEventSent?.(m, Date.now());
            client.publish(topics.events(nodeId), JSON.stringify(m), { qos: 1 }, (err) => err && failed());
          }
          eventsSent++;
        }
      }, 10),
    );
  }

  return {
    nodeIds,
    cameraIds,
    stats: () => ({
      heartbeatsSent,
      eventsSent,
      publishErrors,
      connected: [...clients.values()].filter((c) => c.connected).length,
    }),
    heartbeats(on) {
      if (on && !hbOn) {
        hbBegan = Date.now();
        hbOwed = 0;
      }
      hbOn = on;
    },
    async announce(ids) {
      await Promise.all(
        ids.map((id) => {
          const client = clients.get(id);
          return client?.connected ? announce(id, client) : undefined;
        }),
      );
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'mqtts://127.0.0.1:8883' },
      nodes: { type: 'string', default: '100' },
      cameras: { type: 'string', default: '4' },
      'heartbeat-s': { type: 'string', default: '5' },
      'events-per-s': { type: 'string', default: '10' },
      seconds: { type: 'string', default: '60' },
      'password-file': { type: 'string' },
    },
  });
  const passwords = new Map<string, string>();
  if (values['password-file'])
    for (const line of (await readFile(values['password-file'], 'utf8')).split('\n')) {
      const [id, secret] = line.trim().split(':');
      if (id && secret) passwords.set(id, secret);
    }
  const fleet = await startFleet({
    url: values.url,
    nodes: Number(values.nodes),
    camerasPerNode: Number(values.cameras),
    heartbeatS: Number(values['heartbeat-s']),
    eventsPerS: Number(values['events-per-s']),
    password: (id) => passwords.get(id),
  });
  console.log(`${fleet.nodeIds.length} nodes connected; running ${values.seconds} s`);
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  console.log(fleet.stats());
  await fleet.stop();
}
