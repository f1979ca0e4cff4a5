/**
 * The cluster the attacks are replayed against: the master and the storage gateway as their own
 * processes on one real PostgreSQL (embedded broker, the gateway with its NAS directory), and
 * nodes driven by the test through the real protocols with their own enrolled credentials, so
 * a node can do exactly what a stolen node could: say what it likes over MQTT and upload with
 * its own token.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import {
  type CommandRequest,
  type EventMessage,
  type HelloMessage,
  SEGMENT_HEADERS,
  type SecurityAlertPage,
  SNAPSHOT_HEADERS,
  snapshotPath,
  topics,
} from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { type Central, startCentral } from '../../support/central.ts';
import { enrolTestNodeFully } from '../../support/enrol.ts';
import { encodeHlsFootage } from '../../support/hls-footage.ts';
import { onCleanup, startTestDatabase, tempDir, waitFor } from '../../support/index.ts';

const run = promisify(execFile);
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A few seconds of real H.264 fMP4: an init file and its media segments. */
export interface Footage {
  init: Buffer;
  segments: Buffer[];
}

export async function makeFootage(): Promise<Footage> {
  const hls = await encodeHlsFootage(await tempDir('cctv-sec-footage-'), {
    codec: 'h264',
    size: '160x90',
    fps: 10,
    seconds: 6,
  });
  return { init: hls.init, segments: hls.segments.map((s) => s.data) };
}

/** A tiny real JPEG. */
export async function makeJpeg(): Promise<Buffer> {
  const dir = await tempDir('cctv-sec-jpeg-');
  const out = join(dir, 'x.jpg');
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=64x36',
    '-frames:v',
    '1',
    out,
  ]);
  return readFile(out);
}

export interface TestNode {
  id: string;
  client: MqttClient;
  /** The node's MQTT password (what a thief of the node's files has). */
  secret: string;
  uploadToken: string;
  /** Commands the master sent this node, in order. */
  commands: { name: string; request: CommandRequest }[];
  /** Publishes a hello naming `cameras`. */
  hello(cameras: string[]): Promise<void>;
  /** Publishes an event message (or a raw payload) on the node's events topic. */
  event(msg: EventMessage | string): Promise<void>;
  /** Uploads a media segment (and its init file first, once per camera). */
  putSegment(camera: string, name: string, body: Buffer, startAt: Date, init?: Buffer): Promise<Response>;
  putSnapshot(camera: string, name: string, jpeg: Buffer): Promise<Response>;
}

export interface SecurityCluster extends Central {
  databaseUrl: string;
  /** Where the master and the gateway keep their files (`gateway/`, `nas/`, `master/`). */
  dir: string;
  db: PrismaClient;
  node(nodeId: string): Promise<TestNode>;
  /** One sample of a metric of the master (or the gateway), 0 when absent. */
  masterMetric(name: string, labels?: string): Promise<number>;
  gatewayMetric(name: string, labels?: string): Promise<number>;
  /** The security alerts an admin sees, newest first. */
  alerts(): Promise<SecurityAlertPage['alerts']>;
  /** Waits until the master has stored `camera` as `nodeId`'s (its hello applied). */
  owned(camera: string, nodeId: string): Promise<void>;
}

export function helloOf(nodeId: string, cameras: string[]): HelloMessage {
  return {
    protocolVersion: 1,
    nodeId,
    agentVersion: 'test',
    at: new Date().toISOString(),
    host: { hostname: nodeId, platform: 'linux', arch: 'x64', cpus: 2, memTotalBytes: 2 ** 31 },
    capabilities: { ffmpegVersion: 'test', hwEncoders: [] },
    cameras: cameras.map((id) => ({
      id,
      name: `Camera ${id}`,
      codec: 'h264',
      width: 160,
      height: 90,
      fps: 10,
      simulated: true,
      recording: { mode: 'copy' as const, encoder: 'copy', reason: 'test' },
    })),
  };
}

async function sample(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

export async function startSecurityCluster(env: Record<string, string> = {}): Promise<SecurityCluster> {
  const database = await startTestDatabase();
  const dir = await tempDir('cctv-sec-');
  const central = await startCentral(database, dir, env);
  const db = createPrismaClient(database.url, 2);
  onCleanup(() => db.$disconnect());
  const inits = new Set<string>();

  const node = async (nodeId: string): Promise<TestNode> => {
    const enrolment = await enrolTestNodeFully(database.url, nodeId);
    const client = await mqtt.connectAsync(central.mqttUrl, {
      clientId: `agent-${nodeId}`,
      username: nodeId,
      password: enrolment.secret,
      reconnectPeriod: 0,
    });
    onCleanup(() => client.endAsync(true));
    const commands: TestNode['commands'] = [];
    await client.subscribeAsync(topics.cmdFilter(nodeId), { qos: 1 });
    client.on('message', (topic, payload) => {
      const name = topic.split('/').pop() ?? '';
      try {
        commands.push({ name, request: JSON.parse(payload.toString()) as CommandRequest });
      } catch {
        // not ours to judge
      }
    });
    await client.publishAsync(
      topics.status(nodeId),
      JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: 'test' }),
      { qos: 1, retain: true },
    );
    const put = (path: string, body: Buffer, headers: Record<string, string>) =>
      fetch(`${central.gatewayUrl}${path}`, {
        method: 'PUT',
        body: new Uint8Array(body),
        headers: {
          'content-type': 'application/octet-stream',
          [SEGMENT_HEADERS.sha256]: sha256(body),
          [SEGMENT_HEADERS.node]: nodeId,
          authorization: `Bearer ${enrolment.uploadToken}`,
          ...headers,
        },
      });
    return {
      id: nodeId,
      client,
      secret: enrolment.secret,
      uploadToken: enrolment.uploadToken,
      commands,
      hello: (cameras) =>
        client
          .publishAsync(topics.hello(nodeId), JSON.stringify(helloOf(nodeId, cameras)), { qos: 1 })
          .then(() => {}),
      event: (msg) =>
        client
          .publishAsync(topics.events(nodeId), typeof msg === 'string' ? msg : JSON.stringify(msg), {
            qos: 1,
          })
          .then(() => {}),
      async putSegment(camera, name, body, startAt, init) {
        const initName = `init-${camera}.mp4`;
        if (init && !inits.has(`${nodeId}/${camera}`)) {
          const r = await put(`/v1/segments/${camera}/${initName}`, init, {});
          if (r.status < 300) inits.add(`${nodeId}/${camera}`);
        }
        return put(`/v1/segments/${camera}/${name}`, body, {
          [SEGMENT_HEADERS.start]: startAt.toISOString(),
          [SEGMENT_HEADERS.durationMs]: '2000',
          [SEGMENT_HEADERS.init]: initName,
          [SEGMENT_HEADERS.codec]: 'avc1',
        });
      },
      putSnapshot: (camera, name, jpeg) =>
        put(snapshotPath(camera, name), jpeg, {
          'content-type': 'image/jpeg',
          [SNAPSHOT_HEADERS.sha256]: sha256(jpeg),
          [SNAPSHOT_HEADERS.node]: nodeId,
        }),
    };
  };

  return {
    ...central,
    databaseUrl: database.url,
    dir,
    db,
    node,
    masterMetric: (name, labels) => sample(`${central.masterUrl}/metrics`, name, labels),
    gatewayMetric: (name, labels) => sample(`${central.gatewayUrl}/metrics`, name, labels),
    alerts: async () =>
      (await central.admin.getJson<SecurityAlertPage>('/api/security/alerts?limit=500')).alerts,
    owned: async (camera, nodeId) => {
      await waitFor(`${camera} registered to ${nodeId}`, async () => {
        const row = await db.camera.findUnique({ where: { id: camera } });
        return row?.nodeId === nodeId;
      });
    },
  };
}

/** An event message of `camera`, started at `at`. */
export function eventOf(
  id: string,
  camera: string,
  at = new Date(),
  over: Partial<EventMessage> = {},
): EventMessage {
  const t = at.toISOString();
  return {
    id,
    seq: 0,
    type: 'motion',
    phase: 'start',
    cameraId: camera,
    startedAt: t,
    at: t,
    boxes: [{ x: 0.1, y: 0.1, w: 0.2, h: 0.2 }],
    score: 0.4,
    bestAt: t,
    frames: 1,
    ...over,
  };
}
