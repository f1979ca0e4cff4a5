import { mkdir } from 'node:fs/promises';
import type { PrismaClient } from '@cctv/db';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BufferStore } from './buffer/buffer-store.ts';
import type { GatewayConfig } from './config.ts';
import { KeyedLock } from './files/keyed-lock.ts';
import { SegmentFiles } from './files/segment-files.ts';
import { createHttpServer } from './http/http-server.ts';
import type { HealthReport } from './http/ops-routes.ts';
import { SegmentRepository } from './index/segment-repository.ts';
import { IngestService } from './ingest/ingest-service.ts';
import { GatewayMetrics } from './metrics/gateway-metrics.ts';
import { type Delay, NasMover } from './nas/nas-mover.ts';
import { SnapshotService } from './snapshots/snapshot-service.ts';
import { SnapshotStore } from './snapshots/snapshot-store.ts';

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  prisma: PrismaClient;
  /** Wall clock; injected so tests control it. */
  now?: () => Date;
  /** Pause between NAS retries; injected so tests need not sleep. */
  delay?: Delay;
}

export interface Gateway {
  http: FastifyInstance;
  mover: NasMover;
  metrics: GatewayMetrics;
  /** Starts the NAS mover and listens; resolves to the bound address. */
  start(): Promise<string>;
  /** Stops accepting, lets in-flight uploads and the current NAS move finish. */
  stop(): Promise<void>;
}

/** Builds the gateway's parts, in start order. The caller owns the database client. */
export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const metrics = new GatewayMetrics(); // prometheus counters, on a registry of our own
  const lock = new KeyedLock(); // one writer at a time per file: ingest vs NAS mover, snapshot re-PUTs
  const files = new SegmentFiles(config.bufferDir, config.nasDir); // where a segment lives
  const buffer = new BufferStore(config.bufferDir); // durable local buffer
  const index = new SegmentRepository(deps.prisma); // Segment rows in PostgreSQL
  const snapshotStore = new SnapshotStore(config.snapshotDir); // event snapshots, durable like the buffer

  let lastMoveAt: Date | null = null;
  let lastFailureAt: Date | null = null;
  const mover = new NasMover({
    buffer,
    files,
    lock,
    logger: logger.child({ part: 'nas' }),
    retryInitialMs: config.nasRetryInitialMs,
    retryMaxMs: config.nasRetryMaxMs,
    delay: deps.delay,
    onMoved: async (moved) => {
      await index.setLocation(moved.camera, moved.name, 'nas');
      metrics.nasMoves.inc();
      lastMoveAt = now();
    },
    onFailure: () => {
      metrics.nasFailures.inc();
      lastFailureAt = now();
    },
    onBacklog: (count) => metrics.bufferSegments.set(count),
  });

  const ingest = new IngestService({
    buffer,
    files,
    index,
    lock,
    maxSegmentBytes: config.maxSegmentBytes,
    logger: logger.child({ part: 'ingest' }),
    onStored: (segment) => {
      metrics.ingested.inc({ kind: segment.kind });
      metrics.bytesIngested.inc(segment.bytes);
      mover.enqueue(segment);
    },
    onRejected: (reason) => metrics.reject(reason),
  });

  const snapshots = new SnapshotService({
    store: snapshotStore,
    lock,
    logger: logger.child({ part: 'snapshots' }),
    onStored: (snapshot) => {
      metrics.snapshotsStored.inc();
      metrics.snapshotBytesStored.inc(snapshot.bytes);
    },
    onRejected: (reason) => metrics.rejectSnapshot(reason),
  });

  const health = async (): Promise<HealthReport> => {
    const db = await index.ping().then(
      () => 'ok',
      () => 'down',
    );
    const nas = mover.degraded ? 'failing' : 'ok';
    return {
      status: db === 'down' ? 'down' : nas === 'ok' ? 'ok' : 'degraded',
      db,
      nas,
      backlog: mover.backlog,
      lastMoveAt: lastMoveAt?.toISOString() ?? null,
      lastFailureAt: lastFailureAt?.toISOString() ?? null,
    };
  };

  const http = await createHttpServer({
    logger,
    ingest,
    files,
    snapshots,
    snapshotStore,
    index,
    now,
    registry: metrics.registry,
    health,
  });

  return {
    http,
    mover,
    metrics,
    async start() {
      await buffer.prepare();
      await snapshotStore.prepare();
      // For a single box the "NAS" is a plain directory; a missing mount is only logged,
      // the mover keeps retrying until it appears.
      await mkdir(config.nasDir, { recursive: true }).catch((err: unknown) =>
        logger.warn({ err, nasDir: config.nasDir }, 'NAS directory not available yet'),
      );
      await mover.start();
      return http.listen({ host: config.host, port: config.port });
    },
    async stop() {
      await http.close();
      await mover.stop();
    },
  };
}
