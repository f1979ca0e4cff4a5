/**
 * Exports (`/api/exports`): operators and admins ask for an MP4 of a camera they may see (at
 * most an hour), follow its progress, and download it once done. Asking and downloading are
 * both audited. A user sees their own exports; admins see everyone's.
 */
import { createReadStream } from 'node:fs';
import {
  EXPORT_MAX_RANGE_MS,
  type ExportIdParams,
  type ExportJobView,
  type ExportRequest,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { canSeeCamera, hasRole } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import type { ExportJobs } from '../exports/export-jobs.ts';
import { type ExportRepository, toExportView } from '../exports/export-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface ExportRouteDeps {
  jobs: Pick<ExportJobs, 'create' | 'file'>;
  repo: Pick<ExportRepository, 'get' | 'list'>;
  audit: AuditLog;
  metrics: MasterMetrics;
}

export const exportRoutes: FastifyPluginAsync<ExportRouteDeps> = async (app, deps) => {
  app.post<{ Body: ExportRequest }>('/api/exports', routeOf('exportCreate'), async (req, reply) => {
    const user = userOf(req);
    const { cameraId } = req.body;
    if (!hasRole(user, 'operator'))
      return forbid(reply, deps.metrics, 'role', 'exports need the operator role');
    if (!canSeeCamera(user, cameraId))
      return forbid(reply, deps.metrics, 'camera', `camera ${cameraId} is not in your access list`);
    const from = new Date(req.body.from);
    const to = new Date(req.body.to);
    if (from >= to || to.getTime() - from.getTime() > EXPORT_MAX_RANGE_MS) {
      deps.metrics.httpBadRequests.inc({ route: '/api/exports', reason: 'range' });
      return reply
        .code(400)
        .send(errorBody('BAD_RANGE', 'from must be earlier than to, and the range at most 1 h'));
    }
    const blurFaces = req.body.blurFaces ?? false;
    const blurMotion = req.body.blurMotion ?? false;
    const keepVisible = req.body.keepVisible;
    const job = await deps.jobs.create({
      userId: user.id,
      username: user.username,
      cameraId,
      from,
      to,
      blurFaces,
      blurMotion,
      ...(keepVisible ? { keepVisible } : {}),
    });
    await deps.audit.record({
      action: 'export',
      userId: user.id,
      username: user.username,
      cameraId,
      ip: req.ip,
      detail: {
        jobId: job.id,
        from: from.toISOString(),
        to: to.toISOString(),
        blurFaces,
        blurMotion,
        keepVisible: keepVisible?.length ?? 0,
      },
    });
    return reply.code(202).send(toExportView(job));
  });

  app.get('/api/exports', routeOf('exports'), async (req): Promise<ExportJobView[]> => {
    const user = userOf(req);
    const rows = await deps.repo.list(user.role === 'admin' ? null : user.id);
    return rows.map(toExportView);
  });

  const owned = async (id: string, req: Parameters<typeof userOf>[0]) => {
    const user = userOf(req);
    const job = await deps.repo.get(id);
    return job && (job.userId === user.id || user.role === 'admin') ? job : null;
  };

  app.get<{ Params: ExportIdParams }>('/api/exports/:id', routeOf('export'), async (req, reply) => {
    const job = await owned(req.params.id, req);
    if (!job) return reply.code(404).send(errorBody('UNKNOWN_EXPORT', `export ${req.params.id} is unknown`));
    return toExportView(job);
  });

  app.get<{ Params: ExportIdParams }>('/api/exports/:id/file', routeOf('exportFile'), async (req, reply) => {
    const user = userOf(req);
    const job = await owned(req.params.id, req);
    if (!job) return reply.code(404).send(errorBody('UNKNOWN_EXPORT', `export ${req.params.id} is unknown`));
    if (job.state !== 'done')
      return reply.code(409).send(errorBody('EXPORT_NOT_READY', `export ${job.id} is ${job.state}`));
    // The camera may have left the user's list since the export was made.
    if (!canSeeCamera(user, job.cameraId))
      return forbid(reply, deps.metrics, 'camera', `camera ${job.cameraId} is not in your access list`);
    await deps.audit.record({
      action: 'export_download',
      userId: user.id,
      username: user.username,
      cameraId: job.cameraId,
      ip: req.ip,
      detail: { jobId: job.id },
    });
    const name = `${job.cameraId}-${job.from.toISOString().replace(/[:.]/g, '-')}.mp4`;
    reply.header('content-type', 'video/mp4');
    reply.header('content-disposition', `attachment; filename="${name}"`);
    if (job.bytes !== null) reply.header('content-length', String(job.bytes));
    reply.header('cache-control', 'private, no-store');
    return reply.send(createReadStream(deps.jobs.file(job.id)));
  });
};
