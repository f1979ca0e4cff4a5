/**
 * The one-line agent install (docs/adr/0016). `POST /api/nodes/:id/install-token` (admins,
 * audited) answers the line to paste on a new host; the line and its script use the public
 * routes: the CA (`/install/ca.pem`, pinned by its sha256 in the line), the script, the agent
 * release, `POST /install/check` (the token is good: nothing is installed otherwise),
 * `POST /install/enrol` (burns the token, issues the node's credential; audited) and the node's
 * state for the script's wait (`/install/nodes/:id/status`, the node's upload token as bearer).
 * The token never reaches a log or the audit log; only its row id does.
 */

import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type {
  InstallArchParams,
  InstallCheckRequest,
  InstallEnrolRequest,
  InstallNodeParams,
  InstallReleaseQuery,
  InstallTokenRequest,
  NodeIdParams,
} from '@cctv/protocol';
import { INSTALL_TTL_MINUTES } from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { hasRole } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { type Enrolment, hashUploadToken } from '../auth/node-credentials.ts';
import { type EnrolmentTokens, InstallTokenError, type TokenRefusal } from '../install/enrolment-tokens.ts';
import { type InstallSite, InstallUnavailable } from '../install/install-site.ts';
import { RefusalWindow } from '../install/refusal-window.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface InstallRouteDeps {
  site: InstallSite;
  tokens: EnrolmentTokens;
  /** Issues the node's credential (replacing one left from an earlier install). */
  enrol(nodeId: string): Promise<Enrolment>;
  /** Where the node is to connect. */
  nodeUrls(): { mqttUrl: string; gatewayUrl: string };
  /** The node's upload token hash, to authenticate its status requests. */
  uploadTokenHash(nodeId: string): Promise<string | null>;
  nodeState(
    nodeId: string,
  ): Promise<{ state: 'online' | 'stale' | 'offline'; agentVersion: string | null } | null>;
  audit: AuditLog;
  metrics: MasterMetrics;
  /** A used token came again (its line may have leaked): for a security alert. */
  onTokenReused?: (r: {
    nodeId: string;
    tokenId: string;
    usedAt: Date;
    usedFrom: string | null;
    from: string;
  }) => void;
  /** Refused tokens per address; a fresh one per server by default. */
  refusals?: RefusalWindow;
}

const REFUSAL_REASON: Record<TokenRefusal, string> = {
  TOKEN_UNKNOWN: 'unknown',
  TOKEN_USED: 'used',
  TOKEN_EXPIRED: 'expired',
};

export const installRoutes: FastifyPluginAsync<InstallRouteDeps> = async (app, deps) => {
  const refusals = deps.refusals ?? new RefusalWindow();

  /** Answers 503 for a part of the install the master is not configured for; rethrows the rest. */
  const unavailable = (reply: FastifyReply, err: unknown) => {
    if (!(err instanceof InstallUnavailable)) throw err;
    return reply.code(503).send(errorBody(err.code, err.message));
  };

  /** 429 while the address is held back; else null. */
  const throttled = (req: FastifyRequest, reply: FastifyReply) => {
    const waitMs = refusals.waitMs(req.ip);
    if (waitMs <= 0) return null;
    deps.metrics.installTokensRefused.inc({ reason: 'throttled' });
    return reply
      .code(429)
      .header('retry-after', String(Math.ceil(waitMs / 1000)))
      .send(
        errorBody('TOO_MANY_REFUSALS', `too many refused install tokens from ${req.ip}: try again later`),
      );
  };

  const refuse = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
    if (!(err instanceof InstallTokenError)) throw err;
    refusals.refused(req.ip);
    deps.metrics.installTokensRefused.inc({ reason: REFUSAL_REASON[err.code] });
    req.log.warn({ code: err.code, tokenId: err.row?.id, from: req.ip }, 'install token refused');
    if (err.code === 'TOKEN_USED' && err.row?.usedAt)
      deps.onTokenReused?.({
        nodeId: err.row.nodeId,
        tokenId: err.row.id,
        usedAt: err.row.usedAt,
        usedFrom: err.row.usedFrom,
        from: req.ip,
      });
    return reply.code(403).send(errorBody(err.code, err.message));
  };

  app.post<{ Params: NodeIdParams; Body: InstallTokenRequest | null | undefined }>(
    '/api/nodes/:id/install-token',
    { ...routeOf('nodeInstallToken'), schemaErrorFormatter: schemaErrorsAs({ params: 'BAD_NODE_ID' }) },
    async (req, reply) => {
      const user = userOf(req);
      if (!hasRole(user, 'admin'))
        return forbid(reply, deps.metrics, 'role', 'only admins may ask for install lines');
      const ttlMinutes = req.body?.ttlMinutes ?? INSTALL_TTL_MINUTES.default;
      let caSha256: string;
      try {
        deps.site.ready();
        caSha256 = deps.site.caSha256();
      } catch (err) {
        return unavailable(reply, err);
      }
      const issued = await deps.tokens.issue(req.params.id, ttlMinutes, user.username);
      await deps.audit.record({
        action: 'node_enrol_token',
        userId: user.id,
        username: user.username,
        nodeId: req.params.id,
        ip: req.ip,
        detail: { tokenId: issued.id, ttlMinutes, expiresAt: issued.expiresAt.toISOString() },
      });
      app.log.info({ nodeId: req.params.id, tokenId: issued.id, ttlMinutes }, 'install token issued');
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        nodeId: req.params.id,
        line: deps.site.line(issued.token, caSha256),
        expiresAt: issued.expiresAt.toISOString(),
        caSha256,
      });
    },
  );

  app.get('/install/ca.pem', routeOf('installCa'), async (_req, reply) => {
    try {
      return reply.type('application/x-pem-file').send(deps.site.caPem());
    } catch (err) {
      return unavailable(reply, err);
    }
  });

  app.get('/install/agent.sh', routeOf('installScript'), async (_req, reply) =>
    reply.type('text/x-shellscript; charset=utf-8').send(deps.site.script()),
  );

  const release = (arch: InstallArchParams['arch'], version: string | undefined, reply: FastifyReply) => {
    try {
      const found = deps.site.release(arch, version);
      if (!found) {
        reply
          .code(404)
          .send(
            errorBody(
              'NO_RELEASE',
              `the master has no agent release${version ? ` ${version}` : ''} for linux-${arch} (MASTER_RELEASE_DIR)`,
            ),
          );
        return null;
      }
      return found;
    } catch (err) {
      unavailable(reply, err);
      return null;
    }
  };

  app.get<{ Params: InstallArchParams; Querystring: InstallReleaseQuery }>(
    '/install/releases/:arch',
    routeOf('installRelease'),
    async (req, reply) => {
      const found = release(req.params.arch, req.query.version, reply);
      if (!found) return reply;
      reply.header('content-type', 'application/gzip');
      reply.header('content-disposition', `attachment; filename="${found.file}"`);
      return reply.send(createReadStream(found.path));
    },
  );

  app.get<{ Params: InstallArchParams; Querystring: InstallReleaseQuery }>(
    '/install/releases/:arch/sha256',
    routeOf('installReleaseSha256'),
    async (req, reply) => {
      const found = release(req.params.arch, req.query.version, reply);
      if (!found) return reply;
      return reply.type('text/plain; charset=utf-8').send(`${found.sha256}  ${found.file}\n`);
    },
  );

  app.post<{ Body: InstallCheckRequest }>('/install/check', routeOf('installCheck'), async (req, reply) => {
    if (throttled(req, reply)) return reply;
    let row: Awaited<ReturnType<EnrolmentTokens['check']>>;
    try {
      row = await deps.tokens.check(req.body.token);
    } catch (err) {
      return refuse(req, reply, err);
    }
    const found = release(req.body.arch, undefined, reply);
    if (!found) return reply;
    return {
      nodeId: row.nodeId,
      expiresAt: row.expiresAt.toISOString(),
      release: { version: found.version, file: found.file, sha256: found.sha256 },
    };
  });

  app.post<{ Body: InstallEnrolRequest }>('/install/enrol', routeOf('installEnrol'), async (req, reply) => {
    if (throttled(req, reply)) return reply;
    let ca: string;
    try {
      ca = deps.site.caPem();
    } catch (err) {
      return unavailable(reply, err);
    }
    let row: Awaited<ReturnType<EnrolmentTokens['burn']>>;
    try {
      row = await deps.tokens.burn(req.body.token, req.ip);
    } catch (err) {
      return refuse(req, reply, err);
    }
    const e = await deps.enrol(row.nodeId);
    await deps.audit.record({
      action: 'node_install',
      // Done with the admin's token: the audit names who asked for it.
      userId: null,
      username: row.createdBy,
      nodeId: row.nodeId,
      ip: req.ip,
      detail: { tokenId: row.id, hostname: req.body.hostname ?? null, rotated: e.rotated },
    });
    app.log.info({ nodeId: row.nodeId, tokenId: row.id, from: req.ip }, 'node enrolled by its install line');
    reply.header('cache-control', 'no-store');
    return reply.code(201).send({
      nodeId: e.nodeId,
      username: e.nodeId,
      password: e.secret,
      uploadToken: e.uploadToken,
      ...deps.nodeUrls(),
      ca,
    });
  });

  app.get<{ Params: InstallNodeParams }>(
    '/install/nodes/:id/status',
    routeOf('installNodeStatus'),
    async (req, reply) => {
      if (throttled(req, reply)) return reply;
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : '';
      const stored = token ? await deps.uploadTokenHash(req.params.id) : null;
      const given = Buffer.from(hashUploadToken(token), 'hex');
      if (!stored || !timingSafeEqual(Buffer.from(stored, 'hex'), given)) {
        refusals.refused(req.ip);
        deps.metrics.installTokensRefused.inc({ reason: 'bad_node_token' });
        return reply
          .code(401)
          .send(errorBody('UNAUTHENTICATED', "the node's upload token is needed as bearer"));
      }
      const node = await deps.nodeState(req.params.id);
      return {
        nodeId: req.params.id,
        state: node?.state ?? 'unknown',
        agentVersion: node?.agentVersion ?? null,
      };
    },
  );
};
