import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { installErrorMapping } from './http-error.ts';
import { type LiveRoutesOptions, liveRoutes } from './live-routes.ts';
import { type OpsRoutesOptions, opsRoutes } from './ops-routes.ts';
import { type RenditionRoutesOptions, renditionRoutes } from './rendition-routes.ts';
import { type SegmentRoutesOptions, segmentRoutes } from './segment-routes.ts';
import { type SnapshotRoutesOptions, snapshotRoutes } from './snapshot-routes.ts';
import { type VodRoutesOptions, vodRoutes } from './vod-routes.ts';

export type HttpServerOptions = SegmentRoutesOptions &
  SnapshotRoutesOptions &
  VodRoutesOptions &
  OpsRoutesOptions &
  RenditionRoutesOptions &
  LiveRoutesOptions & { logger: Logger };

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The gateway's fastify instance with every route; not listening yet. */
export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    // One line per segment upload would drown the log; refusals are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    // Segment and snapshot names may be 128 characters, longer than the router's default.
    routerOptions: { maxParamLength: 256 },
  }) as unknown as FastifyInstance;
  installErrorMapping(app);
  // Browsers on other origins (the dashboard with hls.js) may read; only agents write.
  await app.register(cors, {
    delegator: (request, callback) =>
      callback(null, {
        origin: READ_METHODS.has(request.method ?? '') ? '*' : false,
        methods: ['GET', 'HEAD'],
        allowedHeaders: ['Range'],
        exposedHeaders: ['Content-Length', 'Content-Range', 'Accept-Ranges'],
        maxAge: 600,
      }),
  });
  await app.register(segmentRoutes, { ingest: opts.ingest, files: opts.files });
  await app.register(snapshotRoutes, { snapshots: opts.snapshots, snapshotStore: opts.snapshotStore });
  await app.register(vodRoutes, { index: opts.index, now: opts.now });
  await app.register(renditionRoutes, { index: opts.index, renditions: opts.renditions, now: opts.now });
  await app.register(liveRoutes, { index: opts.index, live: opts.live, now: opts.now });
  await app.register(opsRoutes, { registry: opts.registry, health: opts.health });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 400)
      request.log.info(
        { method: request.method, url: request.url, status: reply.statusCode },
        'request refused',
      );
  });
  return app;
}
