import { mkdir, statfs } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createPgPool, type PrismaClient, SecurityAlertRecorder } from '@cctv/db';
import { publicMetricsWarning } from '@cctv/tls';
import { registerCertificateExpiry } from '@cctv/tls/service-metrics';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CameraOwners, prismaCameraOwners, UnregisteredCameraGrace } from './auth/camera-owners.ts';
import { GrantVerifier, prismaGrantKeys } from './auth/grant-verifier.ts';
import { prismaTokenSource, UploadAuth } from './auth/upload-auth.ts';
import { BufferStore } from './buffer/buffer-store.ts';
import { GatewayRegistry } from './cluster/gateway-registry.ts';
import { PeerForwarder } from './cluster/peer-forwarder.ts';
import { PeerReads } from './cluster/peer-reads.ts';
import type { GatewayConfig } from './config.ts';
import { KeyedLock } from './files/keyed-lock.ts';
import { SegmentFiles } from './files/segment-files.ts';
import { SegmentTimes } from './http/grant-scope.ts';
import { createHttpServer } from './http/http-server.ts';
import type { HealthReport } from './http/ops-routes.ts';
import { Reconciler } from './index/reconcile.ts';
import { SegmentRepository } from './index/segment-repository.ts';
import { SegmentWriter } from './index/segment-writer.ts';
import { IngestService } from './ingest/ingest-service.ts';
import { LiveFeeds } from './live/live-feeds.ts';
import { GatewayMetrics } from './metrics/gateway-metrics.ts';
import { NasClient } from './nas/nas-client.ts';
import { type Delay, NasMover } from './nas/nas-mover.ts';
import { RenditionService } from './rendition/rendition-service.ts';
import { RetentionRepository } from './retention/retention-repository.ts';
import { RetentionSweeper } from './retention/retention-sweeper.ts';
import { advisoryRoundLock } from './retention/round-lock.ts';
import { SnapshotEvents } from './snapshots/snapshot-events.ts';
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
  /** Verifies footage grants; the benchmark injects variants to measure what it costs. */
  grants?: Pick<GrantVerifier, 'verify' | 'preload'>;
}

export interface Gateway {
  http: FastifyInstance;
  mover: NasMover;
  nas: NasClient;
  retention: RetentionSweeper;
  metrics: GatewayMetrics;
  renditions: RenditionService;
  /** The start-up reconciliation of the index with the NAS, once it has run. */
  reconciled(): Promise<unknown>;
  /** Starts the NAS mover and listens; resolves to the bound address. */
  start(): Promise<string>;
  /** Stops accepting, lets in-flight uploads and the current NAS move finish. */
  stop(): Promise<void>;
}

/** Uploads for a camera nobody registered raise a security alert once refused this long. */
const UNREGISTERED_CAMERA_GRACE_MS = 60_000;

/**
 * Builds the gateway's parts, in start order. The caller owns the database client. Over 300
 * lines on purpose: this is the one list of the parts and of the callbacks between them
 * (metrics, alerts, the NAS queue); what each part does lives in its own folder.
 */
export async function createGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const metrics = new GatewayMetrics(); // prometheus counters, on a registry of our own
  registerCertificateExpiry(metrics.registry, { https: config.tls?.certFile });
  const lock = new KeyedLock(); // one writer at a time per file: ingest vs NAS mover, snapshot re-PUTs
  const files = new SegmentFiles(config.bufferDir, config.nasDir); // where a segment lives
  const index = new SegmentRepository(deps.prisma); // Segment rows in PostgreSQL
  // the index's per-upload and per-move statements: plain pg, batched (its own small pool)
  const indexPool = createPgPool(config.databaseUrl, 3, (err) =>
    logger.warn({ err }, 'an idle segment index connection failed'),
  );
  const writer = new SegmentWriter(indexPool);
  const snapshotStore = new SnapshotStore(config.snapshotDir); // event snapshots, durable like the buffer
  // security alerts (foreign uploads), in the master's table: the dashboard shows them
  const alerts = new SecurityAlertRecorder(deps.prisma, {
    onError: (err) => logger.error({ err }, 'security alert not written'),
  });
  const unregistered = new UnregisteredCameraGrace(UNREGISTERED_CAMERA_GRACE_MS);
  const auth = // per-node upload tokens (NodeCredential.uploadTokenHash), uploads only for owned cameras
    config.uploadAuth === 'token'
      ? new UploadAuth({
          source: prismaTokenSource(deps.prisma),
          cacheMs: config.uploadAuthCacheS * 1000,
          owners: new CameraOwners({
            source: prismaCameraOwners(deps.prisma),
            cacheMs: config.uploadAuthCacheS * 1000,
          }),
          onForeign: ({ nodeId, cameraId, owner, address }) => {
            logger.warn(
              { nodeId, cameraId, owner, address },
              'upload for a camera the node does not own refused',
            );
            // A camera nobody registered yet is a new node racing its own hello (or a master
            // that is down): refused and counted, retried by the agent, and an alarm only if it
            // lasts. Another node's camera is one at once.
            if (owner === null && !unregistered.overdue(nodeId, cameraId)) return;
            const lasting = Math.round(unregistered.refusedForMs(nodeId, cameraId) / 1000);
            alerts.raise({
              kind: 'foreign_upload',
              source: 'gateway',
              nodeId,
              cameraId,
              address,
              message:
                owner === null
                  ? `node ${nodeId} has uploaded for camera ${cameraId}, which no node registered, for ${lasting} s`
                  : `node ${nodeId} uploaded for camera ${cameraId}, which belongs to node ${owner}`,
            });
          },
        })
      : null;
  // footage grants: the master's public keys; every read is checked against one
  const grants = deps.grants ?? new GrantVerifier({ keys: prismaGrantKeys(deps.prisma) });
  const times = new SegmentTimes(index);
  // This gateway among those sharing the database and the NAS: its row in `Gateway` (where peers
  // reach it), and reads of files waiting in a peer's buffer sent to that peer.
  const { gatewayId } = config.cluster;
  const registry = new GatewayRegistry({
    prisma: deps.prisma,
    gatewayId,
    logger: logger.child({ part: 'cluster' }),
  });
  const forwarder = new PeerForwarder({
    registry,
    gatewayId,
    timeoutMs: config.cluster.peerTimeoutMs,
    // a rendition the peer makes first: its own transcode limit, and the usual margin
    slowAnswerMs: config.rendition.timeoutMs + config.cluster.peerTimeoutMs,
    logger: logger.child({ part: 'cluster' }),
    onResult: (result) => metrics.peerReads.inc({ result }),
  });
  const peers = new PeerReads({ index, registry, forwarder, gatewayId });
  // Every NAS file operation runs in a worker process, so a hung share cannot stall the gateway.
  const nas = new NasClient({
    nasDir: config.nasDir,
    requireMount: config.nasRequireMount,
    timeoutMs: config.nasTimeoutMs,
    logger: logger.child({ part: 'nas-worker' }),
  });

  let lastMoveAt: Date | null = null;
  let lastFailureAt: Date | null = null;
  const mover = new NasMover({
    nas,
    files,
    lock,
    logger: logger.child({ part: 'nas' }),
    retryInitialMs: config.nasRetryInitialMs,
    retryMaxMs: config.nasRetryMaxMs,
    drainBytesPerS: config.nasDrainBytesPerS,
    parallel: config.nasParallel,
    delay: deps.delay,
    index: writer,
    onMoved: (moved) => {
      metrics.nasMoves.inc();
      metrics.nasVerifiedBytes.inc(moved.bytes);
      metrics.nasWriteSeconds.observe(moved.ms / 1000);
      metrics.nasUp.set(1);
      lastMoveAt = now();
    },
    onFailure: (_item, reason) => {
      metrics.nasFailure(reason);
      metrics.nasUp.set(0);
      lastFailureAt = now();
    },
    onDropped: () => metrics.bufferDamaged.inc(),
    onBacklog: (count) => metrics.bufferSegments.set(count),
  });
  // durable local buffer; refuses (503) what would overfill it
  const buffer = new BufferStore(
    config.bufferDir,
    { maxBytes: config.bufferMaxBytes, minFreeBytes: config.bufferMinFreeBytes },
    () => mover.backlogBytes,
  );
  metrics.observe({ bufferBytes: () => buffer.usedBytes, oldestAgeS: () => mover.oldestAgeS() });
  const reconciler = new Reconciler({
    index,
    buffer,
    files,
    nas,
    logger: logger.child({ part: 'reconcile' }),
    gatewayId,
  });

  // segment uploads: checked, written durably to the buffer, indexed, queued for the NAS
  const ingest = new IngestService({
    buffer,
    files,
    index: writer,
    lock,
    gatewayId,
    maxSegmentBytes: config.maxSegmentBytes,
    auth,
    nasDigest: (camera, name) => nas.digest(camera, name),
    retryAfterS: config.bufferRetryAfterS,
    // the mover falls behind a healthy NAS: agents keep their segments a little longer
    nasBehind: () => config.nasLagMaxBytes > 0 && mover.lagBytes > config.nasLagMaxBytes,
    logger: logger.child({ part: 'ingest' }),
    onStored: (segment) => {
      metrics.ingested.inc({ kind: segment.kind });
      metrics.bytesIngested.inc(segment.bytes);
      const at = Date.now();
      mover.enqueue({ ...segment, timeMs: segment.startMs ?? 0, arrivedMs: at });
    },
    onRejected: (reason) => {
      metrics.reject(reason);
      if (reason === 'not_owner') metrics.foreignUploads.inc({ kind: 'segment' });
    },
  });

  // Deletes NAS recordings by age and free-space watermark, keeping event footage. Not given
  // deps.delay: that one shortens NAS retries in tests and would make it sweep non-stop.
  let nasUsage: { freeBytes: number; totalBytes: number } | null = null;
  // one round at a time across gateways: a PostgreSQL advisory lock on a connection of its own
  const roundLock = advisoryRoundLock(config.databaseUrl, logger.child({ part: 'retention' }));
  const retention = new RetentionSweeper({
    repository: new RetentionRepository(deps.prisma),
    nas: { remove: (camera, name) => nas.remove(camera, name), usage: () => nas.usage() },
    lock,
    initRecentlyUsed: (camera, name) => ingest.initRecentlyUsed(camera, name),
    roundLock,
    onSkipped: () => metrics.retentionSkipped.inc(),
    config: config.retention,
    logger: logger.child({ part: 'retention' }),
    now,
    onDeleted: ({ reason, bytes }) => {
      metrics.retentionDeletedSegments.inc({ reason });
      metrics.retentionDeletedBytes.inc({ reason }, bytes);
    },
    onBlocked: () => metrics.retentionBlocked.inc(),
    onSweep: ({ usage }) => {
      if (!usage) return;
      metrics.nasFreeBytes.set(usage.freeBytes);
      nasUsage = usage;
    },
  });

  const snapshots = new SnapshotService({
    store: snapshotStore,
    lock,
    auth,
    logger: logger.child({ part: 'snapshots' }),
    onStored: (snapshot) => {
      metrics.snapshotsStored.inc();
      metrics.snapshotBytesStored.inc(snapshot.bytes);
    },
    onRejected: (reason) => {
      metrics.rejectSnapshot(reason);
      if (reason === 'not_owner') metrics.foreignUploads.inc({ kind: 'snapshot' });
    },
  });

  // H.264 renditions of recorded segments for browsers without H.265, cached on disk
  const renditions = new RenditionService({
    ...config.rendition,
    maxCacheBytes: config.rendition.cacheBytes,
    files,
    logger: logger.child({ part: 'rendition' }),
    onTranscoded: (ms) => {
      metrics.renditions.inc({ result: 'transcoded' });
      metrics.transcodeSeconds.observe(ms / 1000);
    },
    onCacheHit: () => metrics.renditions.inc({ result: 'cache_hit' }),
    onBusy: () => metrics.renditions.inc({ result: 'busy' }),
    onFailed: () => metrics.renditions.inc({ result: 'failed' }),
  });

  // The buffer's disk is local: read at each look. The NAS's is read by retention sweeps only
  // (a hung share must not hang the health check).
  const bufferDisk = async () => {
    try {
      const fs = await statfs(config.bufferDir);
      return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
    } catch {
      return null;
    }
  };
  metrics.watchBufferDisk(bufferDisk);
  const health = async (): Promise<HealthReport> => {
    const disk = await bufferDisk();
    const db = await index.ping().then(
      () => 'ok',
      () => 'down',
    );
    const nasState = mover.degraded ? 'failing' : 'ok';
    return {
      status: db === 'down' ? 'down' : nasState === 'ok' ? 'ok' : 'degraded',
      db,
      nas: nasState,
      nasFailure: mover.failure,
      backlog: mover.backlog,
      bufferBytes: buffer.usedBytes,
      oldestBufferedAgeS: Math.round(mover.oldestAgeS()),
      lastMoveAt: lastMoveAt?.toISOString() ?? null,
      lastFailureAt: lastFailureAt?.toISOString() ?? null,
      bufferFreeBytes: disk?.freeBytes ?? null,
      bufferTotalBytes: disk?.totalBytes ?? null,
      nasFreeBytes: nasUsage?.freeBytes ?? null,
      nasTotalBytes: nasUsage?.totalBytes ?? null,
    };
  };

  // low-latency live: a node's copy of a watched camera, cut into LL-HLS parts, in memory
  const liveFeeds = new LiveFeeds({
    limits: {
      maxBoxBytes: 16 * 1024 * 1024,
      maxBytes: config.live.feedMaxBytes,
      windowS: 8,
      minSegmentS: 1,
      maxSegmentS: 10,
    },
    idleMs: config.live.feedIdleS * 1000,
    onOpened: () => metrics.liveFeeds.set(liveFeeds.size),
    onEnded: (_feed, reason) => {
      metrics.liveFeeds.set(liveFeeds.size);
      metrics.liveFeedEnds.inc({ reason });
    },
  });

  const http = await createHttpServer({
    logger,
    tls: config.tls,
    ingest,
    files,
    snapshots,
    snapshotStore,
    events: new SnapshotEvents(deps.prisma),
    index,
    times,
    renditions,
    live: config.live,
    liveFeeds: {
      feeds: liveFeeds,
      auth,
      onRefused: (reason) => {
        metrics.liveFeedRefusals.inc({ reason });
        if (reason === 'not_owner') metrics.foreignUploads.inc({ kind: 'live' });
      },
      onParts: (n) => metrics.liveParts.inc(n),
    },
    now,
    registry: metrics.registry,
    health,
    metricsAccess: config.metricsAccess,
    onMetricsRefused: (reason) => metrics.metricsRefused.inc({ reason }),
    grants,
    corsOrigins: config.corsOrigins,
    onGrantRefused: (reason) => metrics.grantRefusals.inc({ reason }),
    onGranted: () => metrics.grantedReads.inc(),
    peers,
  });

  let nasCheck: Promise<unknown> = Promise.resolve();
  return {
    reconciled: () => nasCheck,
    http,
    mover,
    nas,
    retention,
    metrics,
    renditions,
    async start() {
      await grants.preload();
      await buffer.prepare();
      await snapshotStore.prepare();
      await renditions.start();
      // For a single box the "NAS" is a plain directory, made here; a mount point is never
      // created (that would put the footage on the local disk under it). The mover retries
      // until the share is there.
      if (!config.nasRequireMount)
        await mkdir(config.nasDir, { recursive: true }).catch((err: unknown) =>
          logger.warn({ err, nasDir: config.nasDir }, 'NAS directory not available yet'),
        );
      // What a previous run left: the backlog from the index and the buffer, then the NAS side
      // in the background (it lists the share, which may be slow or down).
      const found = await reconciler.buffered();
      reconciler.log(found, 'buffer');
      metrics.indexOrphans.set({ where: 'buffer' }, found.bufferOrphans.length);
      for (const item of found.backlog) mover.enqueue(item);
      mover.resetLag(); // what the buffer held at start is work, not lag
      mover.start();
      nasCheck = reconciler.nasSide().then(
        (report) => {
          reconciler.log(report, 'nas');
          metrics.indexMissing.set(found.missing.length + report.missing.length);
          metrics.indexOrphans.set({ where: 'nas' }, report.nasOrphans.length);
          return report;
        },
        (err: unknown) => {
          logger.warn({ err }, 'NAS reconciliation failed');
          return null;
        },
      );
      retention.start();
      const publicMetrics = publicMetricsWarning(config.metricsAccess, config.host, 'GATEWAY_METRICS_TOKEN');
      if (publicMetrics) logger.warn(publicMetrics);
      const address = await http.listen({ host: config.host, port: config.port });
      // Peers learn where to reach it once it answers there.
      await registry.start(config.cluster.peerUrl ?? listeningUrl(config, http));
      return address;
    },
    async stop() {
      const transcodes = renditions.stop(); // kills running ffmpeg, so their requests end now
      liveFeeds.stop(); // answers the nodes' live feeds, which never end by themselves
      await http.close();
      await transcodes;
      await registry.stop();
      forwarder.close();
      await retention.stop();
      await roundLock.close();
      await mover.stop();
      await nasCheck;
      await nas.close();
      await alerts.stop();
      await indexPool.end();
    },
  };
}

/**
 * Where peers reach this gateway unless `GATEWAY_PEER_URL` says: its listening address and port,
 * this host's name when it listens on every address.
 */
function listeningUrl(config: GatewayConfig, http: FastifyInstance): string {
  const { port } = http.server.address() as AddressInfo;
  const wildcard = ['0.0.0.0', '::', ''].includes(config.host);
  const host = wildcard ? hostname() : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.tls ? 'https' : 'http'}://${host}:${port}`;
}
