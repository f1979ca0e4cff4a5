import type { Server as TlsServer } from 'node:tls';
import { readServerTls, reloadOnChange, type TlsFiles } from '@cctv/tls';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, LogController, type RouteOptions } from 'fastify';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { GrantRefusal, GrantVerifier } from '../auth/grant-verifier.ts';
import { installApiDocs } from './api-docs.ts';
import { GRANT_PREFIX, installGrantHook, installGrantRequired } from './grant-scope.ts';
import { installErrorMapping } from './http-error.ts';
import { type LiveFeedIngestOptions, liveFeedIngestRoutes, llHlsRoutes } from './live-part-routes.ts';
import { type LiveRoutesOptions, liveRoutes } from './live-routes.ts';
import { type OpsRoutesOptions, opsRoutes } from './ops-routes.ts';
import { type RenditionRoutesOptions, renditionRoutes } from './rendition-routes.ts';
import {
  type SegmentReadRoutesOptions,
  type SegmentRoutesOptions,
  segmentReadRoutes,
  segmentRoutes,
} from './segment-routes.ts';
import {
  type SnapshotReadRoutesOptions,
  type SnapshotRoutesOptions,
  snapshotReadRoutes,
  snapshotRoutes,
} from './snapshot-routes.ts';
import { type VodRoutesOptions, vodRoutes } from './vod-routes.ts';

export type HttpServerOptions = SegmentRoutesOptions &
  SegmentReadRoutesOptions &
  SnapshotRoutesOptions &
  SnapshotReadRoutesOptions &
  VodRoutesOptions &
  OpsRoutesOptions &
  RenditionRoutesOptions &
  LiveRoutesOptions & {
    /** Low-latency live feeds from the nodes (`PUT /v1/live-parts/…`, `live/<camera>/ll.m3u8`). */
    liveFeeds: LiveFeedIngestOptions;
    logger: Logger;
    /** Serve HTTPS with this certificate (read again when the files change); plain HTTP without. */
    tls?: TlsFiles | null;
    grants: Pick<GrantVerifier, 'verify'>;
    /** Origins of the pages (the dashboard) allowed to read footage from the browser. */
    corsOrigins: readonly string[];
    onGrantRefused: (reason: GrantRefusal) => void;
    onGranted?: () => void;
  };

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const routeTables = new WeakMap<FastifyInstance, RouteOptions[]>();

/** Every route the server registered, as fastify saw it (URL with prefix, schema). */
export const registeredRoutes = (app: FastifyInstance): readonly RouteOptions[] => routeTables.get(app) ?? [];

/** The gateway's fastify instance with every route; not listening yet. */
export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.tls ? { https: readServerTls(opts.tls, 'GATEWAY_TLS_CERT/KEY') } : {}),
    loggerInstance: opts.logger,
    // One line per segment upload would drown the log; refusals are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Segment and snapshot names may be 128 characters, a grant a few hundred.
    routerOptions: { maxParamLength: 2048 },
  }) as unknown as FastifyInstance;
  installErrorMapping(app);
  const routes: RouteOptions[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (route) => {
    routes.push(route);
  });
  if (opts.tls) {
    const stop = reloadOnChange(app.server as unknown as TlsServer, opts.tls, (err) =>
      err
        ? opts.logger.error(
            { err: err.message },
            'TLS certificate changed but cannot be loaded; kept the old one',
          )
        : opts.logger.info('TLS certificate reloaded'),
    );
    app.addHook('onClose', async () => stop());
  }
  // Media and JSON, never a page. Footage is cross-origin by design (the dashboard's pages and
  // players read it under a grant), so it is not held to its own origin.
  // helmet's middleware is built once: @fastify/helmet builds it again for every request, which
  // cost more CPU than routing an upload.
  const securityHeaders = helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    hsts: opts.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  app.addHook('onRequest', (request, reply, done) =>
    securityHeaders(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined)),
  );
  // Pages of the dashboard's origins may read footage (hls.js, <img>) with a grant in the URL;
  // no other page may, and nobody writes from a browser.
  const origins = new Set(opts.corsOrigins);
  await app.register(cors, {
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      callback(null, {
        origin:
          READ_METHODS.has(request.method ?? '') && origin !== undefined && origins.has(origin)
            ? origin
            : false,
        methods: ['GET', 'HEAD'],
        allowedHeaders: ['Range'],
        exposedHeaders: ['Content-Length', 'Content-Range', 'Accept-Ranges'],
        maxAge: 600,
      });
    },
  });
  // the API document of every route below; ops token only
  await installApiDocs(app, { access: opts.metricsAccess });
  // uploads: the camera's node with its upload token
  await app.register(segmentRoutes, { ingest: opts.ingest });
  await app.register(snapshotRoutes, { snapshots: opts.snapshots });
  await app.register(liveFeedIngestRoutes, opts.liveFeeds);
  // reads: only under a grant the master issued
  installGrantRequired(app, opts.onGrantRefused);
  await app.register(
    async (granted) => {
      installGrantHook(granted, {
        verifier: opts.grants,
        onRefused: opts.onGrantRefused,
        onGranted: opts.onGranted,
      });
      await granted.register(segmentReadRoutes, {
        files: opts.files,
        times: opts.times,
        now: opts.now,
        peers: opts.peers,
      });
      await granted.register(snapshotReadRoutes, {
        snapshotStore: opts.snapshotStore,
        events: opts.events,
        now: opts.now,
      });
      await granted.register(vodRoutes, { index: opts.index, times: opts.times, now: opts.now });
      await granted.register(renditionRoutes, {
        index: opts.index,
        times: opts.times,
        renditions: opts.renditions,
        now: opts.now,
        peers: opts.peers,
      });
      await granted.register(liveRoutes, {
        index: opts.index,
        times: opts.times,
        live: opts.live,
        now: opts.now,
      });
      await granted.register(llHlsRoutes, { feeds: opts.liveFeeds.feeds, now: opts.now });
    },
    { prefix: GRANT_PREFIX },
  );
  await app.register(opsRoutes, {
    registry: opts.registry,
    health: opts.health,
    ...(opts.metricsAccess ? { metricsAccess: opts.metricsAccess } : {}),
    ...(opts.onMetricsRefused ? { onMetricsRefused: opts.onMetricsRefused } : {}),
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 400)
      request.log.info(
        // The path only: a grant is a bearer credential and stays out of the log.
        {
          method: request.method,
          url: redactGrant(request.url.split('?')[0] ?? ''),
          status: reply.statusCode,
        },
        'request refused',
      );
  });
  return app;
}

/** A URL with its grant replaced by `…`, for logs. */
export const redactGrant = (url: string) => url.replace(/^\/v1\/g\/[^/]+/, '/v1/g/…');
