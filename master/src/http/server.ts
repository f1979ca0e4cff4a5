import type { Server as TlsServer } from 'node:tls';
import type { NodeHistoryQuery, NodeIdParams } from '@cctv/protocol';
import {
  type MetricsAccess,
  metricsAllowed,
  metricsVerdict,
  readServerTls,
  reloadOnChange,
  type TlsFiles,
} from '@cctv/tls';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { visibleCameraIds, visibleCameras, visibleNode } from '../auth/access.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { LiveSignalling } from '../live/live-signalling.ts';
import type { MasterMetrics } from '../metrics.ts';
import { type AlertRouteDeps, alertRoutes } from './alert-routes.ts';
import { registerApiDocs } from './api-docs.ts';
import { auditRoutes } from './audit-routes.ts';
import { type AuthRouteDeps, authRoutes } from './auth-routes.ts';
import { type CommandRouteDeps, commandRoutes } from './command-routes.ts';
import { type ConfigRouteDeps, configRoutes } from './config-routes.ts';
import { type CredentialRouteDeps, credentialRoutes } from './credential-routes.ts';
import { errorBody } from './error-body.ts';
import { type EventRouteDeps, eventRoutes } from './event-routes.ts';
import { type ExportRouteDeps, exportRoutes } from './export-routes.ts';
import type { FleetSocketHub } from './fleet-socket.ts';
import { type InstallRouteDeps, installRoutes } from './install-routes.ts';
import { probeRoutes } from './probe-routes.ts';
import { checkRouteContract, routeOf, schemaErrorsAs } from './route-schema.ts';
import { type SecurityRouteDeps, securityRoutes } from './security-routes.ts';
import { installSessionAuth, userOf } from './session-auth.ts';
import { type SettingsRouteDeps, settingsRoutes } from './settings-routes.ts';
import { type ViewRouteDeps, viewRoutes } from './view-routes.ts';

export interface HttpDeps {
  /** Serve HTTPS with this certificate (read again when the files change); plain HTTP without. */
  tls?: TlsFiles | null;
  /** Fleet reads, on the API's own database pool. */
  registry: FleetReads;
  hub: FleetSocketHub;
  /** WebRTC signalling and jsmpeg tickets for live views (`/ws/live`). */
  live: LiveSignalling;
  metrics: MasterMetrics;
  /** Who may read `/metrics`; public when absent. */
  metricsAccess?: MetricsAccess;
  log: Logger;
  /** Origins whose pages may call the API, change things and open websockets. */
  allowedOrigins: string[];
  /** Proxies whose X-Forwarded-For names the client (`MASTER_TRUST_PROXY`). */
  trustProxy?: string[];
  /** Checks the database; throws when it is unreachable. */
  ping: () => Promise<void>;
  /** Node enrolment and revocation over HTTP (`/api/nodes/:id/credentials`). */
  credentials?: CredentialRouteDeps;
  /** The one-line agent install: install lines (admins) and the public routes they use. */
  install?: InstallRouteDeps;
  /** Event search, event detail and camera timelines. */
  events?: EventRouteDeps;
  /** Sign-in, users, audit log; every `/api/*` route but the login needs a session. */
  auth: AuthRouteDeps;
  /** Playback and live view grants (audited). */
  views: Omit<ViewRouteDeps, 'metrics' | 'audit'>;
  /** Commands relayed to nodes (audited). */
  commands: Omit<CommandRouteDeps, 'metrics' | 'audit' | 'registry'>;
  /** The desired configuration of nodes: cameras, versions, rollback (audited). */
  config: Omit<ConfigRouteDeps, 'metrics' | 'audit' | 'registry'>;
  /** The users' own dashboard settings. */
  settings: Omit<SettingsRouteDeps, 'metrics'>;
  /** MP4 exports (audited). */
  exports: Omit<ExportRouteDeps, 'metrics' | 'audit'>;
  /** Security alerts and camera ownership (admins). */
  security: Omit<SecurityRouteDeps, 'metrics' | 'audit'>;
  /** Alerts, alert rules and channels, the delivery outbox (audited). */
  alerts: Omit<AlertRouteDeps, 'metrics' | 'audit'>;
}

/**
 * The master's HTTP API: health, fleet, events, users, metrics and the dashboard websocket.
 * Every route needs a session but those marked public (sign-in, health, metrics); what a user
 * sees is limited to their cameras (`auth/access.ts`).
 */
export async function buildHttpServer(deps: HttpDeps) {
  const app = Fastify({
    ...(deps.tls ? { https: readServerTls(deps.tls, 'MASTER_TLS_CERT/KEY') } : {}),
    loggerInstance: deps.log.child({ part: 'http' }),
    ...(deps.trustProxy?.length ? { trustProxy: deps.trustProxy } : {}),
    // An unknown field is refused with a 400 naming it, not silently dropped: a misspelt
    // `disabled` must not leave an account enabled while the caller believes otherwise.
    ajv: { customOptions: { removeAdditional: false } },
  });
  // Per-request logs only for failures; the API is polled and would flood the log.
  app.addHook('onRoute', (route) => {
    route.logLevel ??= 'warn';
    // Every route is registered with its contract from protocol (request and answer schemas).
    checkRouteContract(route);
  });
  if (deps.tls) {
    const files = deps.tls;
    const stop = reloadOnChange(app.server as unknown as TlsServer, files, (err) =>
      err
        ? deps.log.error(
            { err: err.message },
            'TLS certificate changed but cannot be loaded; kept the old one',
          )
        : deps.log.info('TLS certificate reloaded'),
    );
    app.addHook('onClose', async () => stop());
  }
  // The API answers JSON only: nothing of it may be framed, sniffed or run as a page.
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-site' },
    hsts: deps.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  await app.register(cors, {
    origin: deps.allowedOrigins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    credentials: true,
  });
  await app.register(websocket);
  // Before the routes: the document is built from the routes registered after it.
  await registerApiDocs(app);
  installSessionAuth(app, {
    accounts: deps.auth.accounts,
    metrics: deps.metrics,
    allowedOrigins: deps.allowedOrigins,
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url}`));
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err }, 'request failed');
    reply
      .code(status)
      .send(errorBody(err.code ?? 'INTERNAL', status >= 500 ? 'internal error' : err.message));
  });

  app.get('/healthz', routeOf('health'), async (_req, reply) => {
    try {
      await deps.ping();
      return { status: 'ok' };
    } catch (err) {
      return reply.code(503).send(errorBody('DB_UNAVAILABLE', (err as Error).message));
    }
  });

  app.get('/api/nodes', routeOf('nodes'), async (req, reply) => {
    // Sent as built by PostgreSQL (the response schema is not applied to a string): the SQL
    // makes exactly the fields of `NodeView`, the type the schema is made from.
    const page = await deps.registry.listJson(visibleCameraIds(userOf(req)));
    return reply.type('application/json; charset=utf-8').send(page);
  });

  // The node routes' 400s keep their codes: BAD_NODE_ID for the id, BAD_QUERY for the limit.
  const nodeErrors = schemaErrorsAs(
    { params: 'BAD_NODE_ID', querystring: 'BAD_QUERY' },
    { id: 'is not a node id ([a-z0-9][a-z0-9-]{0,62})', limit: 'must be an integer from 1 to 1000' },
  );

  app.get<{ Params: NodeIdParams }>(
    '/api/nodes/:id',
    { ...routeOf('node'), schemaErrorFormatter: nodeErrors },
    async (req, reply) => {
      const found = await deps.registry.get(req.params.id);
      const node = found && visibleNode(userOf(req), found);
      if (!node) return reply.code(404).send(errorBody('UNKNOWN_NODE', `node ${req.params.id} is unknown`));
      return node;
    },
  );

  app.get<{ Params: NodeIdParams; Querystring: NodeHistoryQuery }>(
    '/api/nodes/:id/history',
    { ...routeOf('nodeHistory'), schemaErrorFormatter: nodeErrors },
    async (req, reply) => {
      const node = await deps.registry.get(req.params.id);
      if (!node || !visibleNode(userOf(req), node))
        return reply.code(404).send(errorBody('UNKNOWN_NODE', `node ${req.params.id} is unknown`));
      return deps.registry.history(req.params.id, req.query.limit);
    },
  );

  await app.register(authRoutes, deps.auth);
  await app.register(auditRoutes, { audit: deps.auth.audit, metrics: deps.metrics });
  await app.register(viewRoutes, { ...deps.views, audit: deps.auth.audit, metrics: deps.metrics });
  await app.register(commandRoutes, {
    ...deps.commands,
    registry: deps.registry,
    audit: deps.auth.audit,
    metrics: deps.metrics,
  });
  await app.register(configRoutes, {
    ...deps.config,
    registry: deps.registry,
    audit: deps.auth.audit,
    metrics: deps.metrics,
  });
  await app.register(settingsRoutes, { ...deps.settings, metrics: deps.metrics });
  await app.register(exportRoutes, { ...deps.exports, audit: deps.auth.audit, metrics: deps.metrics });
  await app.register(securityRoutes, { ...deps.security, audit: deps.auth.audit, metrics: deps.metrics });
  await app.register(alertRoutes, { ...deps.alerts, audit: deps.auth.audit, metrics: deps.metrics });
  // Relayed to a node like the commands above (cmd/probe), with its own rights and timeout.
  await app.register(probeRoutes, {
    commands: deps.commands.commands,
    savedCamera: (cameraId) => deps.config.store.savedCamera(cameraId),
    registry: deps.registry,
    audit: deps.auth.audit,
    metrics: deps.metrics,
  });
  if (deps.credentials) await app.register(credentialRoutes, deps.credentials);
  if (deps.install) await app.register(installRoutes, deps.install);
  if (deps.events) await app.register(eventRoutes, deps.events);

  app.get('/api/cameras', routeOf('cameras'), async (req) =>
    visibleCameras(
      userOf(req),
      (await deps.registry.list()).flatMap((n) => n.cameras),
    ),
  );

  // Public to the session check; a bearer token when MASTER_METRICS_TOKEN is set, judged on the
  // TCP peer (not X-Forwarded-For) for the loopback exemption.
  app.get('/metrics', routeOf('metrics'), async (req, reply) => {
    const verdict = metricsVerdict(
      deps.metricsAccess ?? { token: null, loopback: 'exempt' },
      req.socket.remoteAddress,
      req.headers.authorization,
    );
    if (!metricsAllowed(verdict)) {
      deps.metrics.httpRefused.inc({
        reason: verdict === 'missing' ? 'metrics_no_token' : 'metrics_bad_token',
      });
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="metrics"')
        .send(errorBody('UNAUTHENTICATED', 'metrics need a bearer token'));
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  app.get('/ws', { ...routeOf('fleetSocket'), websocket: true }, (socket, req) => {
    void deps.hub.add(socket, userOf(req), req.sessionId ?? '');
  });

  app.get('/ws/live', { ...routeOf('liveSocket'), websocket: true }, (socket, req) => {
    deps.live.attach(socket, userOf(req), req.ip, req.sessionId ?? '');
  });

  return app;
}
