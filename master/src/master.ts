import type { Logger } from 'pino';
import type { MasterConfig } from './config.ts';
import { openDatabase } from './db/database.ts';
import { attachFleetIngest } from './fleet/ingest.ts';
import { NodeRepository } from './fleet/node-repository.ts';
import { FleetRegistry } from './fleet/registry.ts';
import { FleetSocketHub } from './http/fleet-socket.ts';
import { buildHttpServer } from './http/server.ts';
import { createMetrics } from './metrics.ts';
import { EmbeddedBroker } from './mqtt/broker.ts';

export interface RunningMaster {
  httpPort: number;
  mqttPort: number;
  databaseUrl: string;
  stop(): Promise<void>;
}

/** Starts the master's parts in order; `stop()` closes them in reverse. */
export async function startMaster(config: MasterConfig, log: Logger): Promise<RunningMaster> {
  const metrics = createMetrics();

  // database: external PostgreSQL or the embedded one, migrations applied
  const db = await openDatabase(config, log);
  const repo = new NodeRepository(db.prisma);
  const refreshNodeGauge = () =>
    repo
      .countByState()
      .then((c) => {
        metrics.nodes.set({ state: 'online' }, c.online);
        metrics.nodes.set({ state: 'offline' }, c.offline);
      })
      .catch((err) => log.warn({ err }, 'node gauge refresh failed'));

  // dashboard websocket hub: snapshot on connect, then node changes
  const hub = new FleetSocketHub(
    () => registry.list(),
    log.child({ part: 'ws' }),
    (n) => metrics.wsClients.set(n),
  );
  // fleet registry: node and camera state from status, hello and heartbeat
  const fleetLog = log.child({ part: 'fleet' });
  const registry = new FleetRegistry(
    repo,
    fleetLog,
    {
      onNodeChanged: (node) => hub.nodeChanged(node),
      onStatesChanged: () => void refreshNodeGauge(),
      onUnknownHeartbeat: (nodeId) => {
        metrics.mqttRejected.inc({ kind: 'heartbeat', reason: 'unknown_node' });
        fleetLog.warn({ nodeId }, 'heartbeat of an unknown node dropped (no status or hello yet)');
      },
      onHeartbeatFlush: (size, ms) => {
        metrics.heartbeatBatchSize.observe(size);
        metrics.dbLatency.observe({ op: 'heartbeats' }, ms / 1000);
      },
    },
    undefined,
    config.heartbeatFlushMs,
  );
  await registry.resetStates();

  // mqtt: embedded aedes broker, node messages validated and routed to the registry
  const broker = new EmbeddedBroker({
    host: config.mqttHost,
    port: config.mqttPort,
    log: log.child({ part: 'mqtt' }),
    onPublishRefused: () => metrics.mqttPublishRefused.inc(),
    onClientCount: (n) => metrics.mqttClients.set(n),
  });
  await broker.start();
  await attachFleetIngest(broker, registry, metrics, log.child({ part: 'ingest' }));

  // http: API, metrics and websocket
  const http = await buildHttpServer({
    registry,
    hub,
    metrics,
    log,
    corsOrigins: config.corsOrigins,
    ping: async () => {
      await db.prisma.$queryRawUnsafe('SELECT 1');
    },
  });
  await http.listen({ host: config.httpHost, port: config.httpPort });

  const address = http.server.address();
  return {
    httpPort: typeof address === 'object' && address ? address.port : config.httpPort,
    mqttPort: broker.port,
    databaseUrl: db.url,
    async stop() {
      hub.closeAll();
      await http.close();
      await broker.stop();
      await registry.idle();
      await registry.stop();
      await db.close();
    },
  };
}
