/**
 * The audit log for admins: a page of it (`GET /api/audit`, newest first, keyset-paginated)
 * and every entry matching the same filters as CSV (`GET /api/audit/export.csv`, streamed a
 * page at a time, itself audited).
 */
import { Readable } from 'node:stream';
import type { AuditExportQuery, AuditPage, AuditQuery } from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { hasRole } from '../auth/access.ts';
import { auditCsv } from '../auth/audit-csv.ts';
import type { AuditFilter, AuditLog } from '../auth/audit-log.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface AuditRouteDeps {
  audit: AuditLog;
  metrics: MasterMetrics;
}

/** The largest id a BIGINT column holds. */
const MAX_BIGINT = 2n ** 63n - 1n;

type Filter = Omit<AuditFilter, 'beforeId' | 'limit'>;

/** The query's filters for the log; a string (the refusal's message) for a bad time range. */
function filterOf(q: AuditExportQuery): Filter | string {
  const from = q.from ? new Date(q.from) : undefined;
  const to = q.to ? new Date(q.to) : undefined;
  if (from && to && from >= to) return 'from must be earlier than to';
  return {
    ...(q.action ? { action: q.action } : {}),
    ...(q.user ? { username: q.user.toLowerCase() } : {}),
    ...(q.camera ? { cameraId: q.camera } : {}),
    ...(q.node ? { nodeId: q.node } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

export const auditRoutes: FastifyPluginAsync<AuditRouteDeps> = async (app, deps) => {
  const adminOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hasRole(userOf(req), 'admin')) return forbid(reply, deps.metrics, 'role', 'only admins may do this');
  };
  const badRequest = (reply: FastifyReply, route: string, reason: string, code: string, message: string) => {
    deps.metrics.httpBadRequests.inc({ route, reason });
    return reply.code(400).send(errorBody(code, message));
  };

  app.get<{ Querystring: AuditQuery }>(
    '/api/audit',
    { ...routeOf('audit'), onRequest: adminOnly },
    async (req, reply): Promise<AuditPage | undefined> => {
      const q = req.query;
      const filter = filterOf(q);
      if (typeof filter === 'string') return badRequest(reply, '/api/audit', 'range', 'BAD_RANGE', filter);
      if (q.cursor !== undefined && BigInt(q.cursor) > MAX_BIGINT)
        return badRequest(
          reply,
          '/api/audit',
          'cursor',
          'BAD_CURSOR',
          'cursor must be the nextCursor of a previous page',
        );
      const { entries, more } = await deps.audit.search({
        ...filter,
        ...(q.cursor ? { beforeId: BigInt(q.cursor) } : {}),
        limit: q.limit,
      });
      return { entries, nextCursor: more ? (entries.at(-1)?.id ?? null) : null };
    },
  );

  app.get<{ Querystring: AuditExportQuery }>(
    '/api/audit/export.csv',
    { ...routeOf('auditExport'), onRequest: adminOnly },
    async (req, reply) => {
      const filter = filterOf(req.query);
      if (typeof filter === 'string')
        return badRequest(reply, '/api/audit/export.csv', 'range', 'BAD_RANGE', filter);
      const user = userOf(req);
      // Recorded before the rows are read: the export shows itself when its range includes now.
      await deps.audit.record({
        action: 'audit_export',
        userId: user.id,
        username: user.username,
        ip: req.ip,
        detail: { filter: req.query },
      });
      const day = new Date().toISOString().slice(0, 10);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${day}.csv"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(auditCsv(deps.audit.all(filter))));
    },
  );
};
