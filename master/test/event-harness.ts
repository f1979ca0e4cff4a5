/** A master on a real PostgreSQL and broker, with agents that publish event messages (event-store-and-search.test.ts). */
import { createPrismaClient, type PrismaClient } from '@cctv/db';
import { type EventMessage, topics } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { type Logger, pino } from 'pino';
import { enrolTestNode, registerTestCameras } from '../../test/support/enrol.ts';
import { onCleanup, startTestDatabase, tempDir } from '../../test/support/index.ts';
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from '../../test/support/session.ts';
import { serviceTlsEnv } from '../../test/support/tls.ts';
import { loadConfig } from '../src/config.ts';
import { type RunningMaster, startMaster } from '../src/master.ts';

export function event(over: Partial<EventMessage> & { id: string; cameraId: string }): EventMessage {
  const startedAt = over.startedAt ?? '2026-02-01T10:00:00.000Z';
  return {
    seq: 0,
    type: 'motion',
    phase: 'start',
    startedAt,
    at: startedAt,
    boxes: [{ x: 0.1, y: 0.1, w: 0.2, h: 0.2 }],
    score: 0.3,
    bestAt: startedAt,
    frames: 1,
    ...over,
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();

export interface EventHarness {
  master: RunningMaster;
  /** A separate client for arranging and checking rows directly. */
  /** The database as its owner: the tests' own setup and checks. */
  db: PrismaClient;
  /** The database as the master's role logs in. */
  masterDb: PrismaClient;
  api(path: string): string;
  /** Signed in as the first admin. */
  session: ApiSession;
  /** A signed-in request to the master's API. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  getJson<T>(path: string): Promise<T>;
  /** Sum of the /metrics lines starting with `prefix`. */
  metric(prefix: string): Promise<number>;
  /**
   * Publishes event messages (or raw payloads) as node `nodeId`, QoS 1, in order. The cameras
   * they name are registered to the node first, as its hello would, unless another node owns
   * them already (or `register` is false).
   */
  publish(nodeId: string, msgs: (EventMessage | string)[], register?: boolean): Promise<void>;
}

/** `log`: the master's logger (default: silent, or TEST_LOG_LEVEL); `env`: more of its environment. */
export async function startEventHarness(
  gatewayUrl: string,
  { log, env = {} }: { log?: Logger; env?: Record<string, string> } = {},
): Promise<EventHarness> {
  const pg = await startTestDatabase();
  const config = loadConfig({
    ...serviceTlsEnv(),
    DATABASE_URL: pg.url,
    MASTER_DATA_DIR: await tempDir(),
    MASTER_HTTP_PORT: '0',
    MQTT_PORT: '0',
    MASTER_HTTP_HOST: '127.0.0.1',
    MQTT_HOST: '127.0.0.1',
    GATEWAY_PUBLIC_URL: gatewayUrl,
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    ...env,
  });
  const master = await startMaster(config, log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
  // The tests' own reads and writes (segments the gateway would store): as the owner.
  const db = createPrismaClient(pg.owner, 2);
  const masterDb = createPrismaClient(pg.url, 1);
  const agents = new Map<string, MqttClient>();
  onCleanup(async () => {
    for (const a of agents.values()) await a.endAsync(true);
    await db.$disconnect();
    await masterDb.$disconnect();
    await master.stop();
  });

  const api = (path: string) => `https://127.0.0.1:${master.httpPort}${path}`;
  const agent = async (nodeId: string): Promise<MqttClient> => {
    let client = agents.get(nodeId);
    if (!client) {
      // Agents log in as the real cluster's do: enrolled, with their own credentials.
      client = await mqtt.connectAsync(`mqtt://127.0.0.1:${master.mqttPort}`, {
        clientId: `agent-${nodeId}`,
        username: nodeId,
        password: await enrolTestNode(pg.url, nodeId),
        reconnectPeriod: 0,
      });
      agents.set(nodeId, client);
    }
    return client;
  };
  const session = await signInAdmin(api(''));
  return {
    master,
    db,
    masterDb,
    api,
    session,
    fetch: (path, init) => session.fetch(path, init),
    getJson: async <T>(path: string) => (await session.fetch(path)).json() as Promise<T>,
    async metric(prefix) {
      const text = await (await fetch(api('/metrics'))).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    },
    async publish(nodeId, msgs, register = true) {
      const cameras = [...new Set(msgs.flatMap((m) => (typeof m === 'string' ? [] : [m.cameraId])))];
      if (register && cameras.length > 0) await registerTestCameras(pg.url, nodeId, cameras);
      const client = await agent(nodeId);
      const topic = topics.events(nodeId);
      for (let i = 0; i < msgs.length; i += 100)
        await Promise.all(
          msgs
            .slice(i, i + 100)
            .map((m) =>
              client.publishAsync(topic, typeof m === 'string' ? m : JSON.stringify(m), { qos: 1 }),
            ),
        );
    },
  };
}
