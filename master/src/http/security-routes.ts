/**
 * Security alerts (`/api/security/alerts`, admins) and camera ownership (`PUT
 * /api/cameras/:id/node`, admins): a camera belongs to the node that first registered it; only
 * an admin gives it to another node, audited, and the node that had it is told.
 */
import {
  CAMERA_MOVED_COMMAND,
  type CameraIdParams,
  type CameraMovedArgs,
  type CameraMoveRequest,
  type SecurityAlertIdParams,
  type SecurityAlertQuery,
} from '@cctv/protocol';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { hasRole } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import type { NodeCommands } from '../fleet/node-commands.ts';
import type { FleetRegistry } from '../fleet/registry.ts';
import type { MasterMetrics } from '../metrics.ts';
import type { SecurityAlertLog } from '../security/security-alert-log.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface SecurityRouteDeps {
  alerts: SecurityAlertLog;
  registry: Pick<FleetRegistry, 'moveCamera'>;
  commands: Pick<NodeCommands, 'send'>;
  audit: AuditLog;
  metrics: MasterMetrics;
}

export const securityRoutes: FastifyPluginAsync<SecurityRouteDeps> = async (app, deps) => {
  const adminOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hasRole(userOf(req), 'admin')) return forbid(reply, deps.metrics, 'role', 'only admins may do this');
  };

  app.get<{ Querystring: SecurityAlertQuery }>(
    '/api/security/alerts',
    { ...routeOf('securityAlerts'), onRequest: adminOnly },
    async (req) =>
      deps.alerts.list({
        ...(req.query.open ? { open: true } : {}),
        ...(req.query.cursor ? { beforeId: BigInt(req.query.cursor) } : {}),
        limit: req.query.limit,
      }),
  );

  app.post<{ Params: SecurityAlertIdParams }>(
    '/api/security/alerts/:id/ack',
    { ...routeOf('securityAlertAck'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const alert = await deps.alerts.acknowledge(BigInt(req.params.id), user.username, new Date());
      if (!alert)
        return reply.code(404).send(errorBody('UNKNOWN_ALERT', `alert ${req.params.id} is unknown`));
      await deps.audit.record({
        action: 'security_alert_ack',
        userId: user.id,
        username: user.username,
        nodeId: alert.nodeId,
        cameraId: alert.cameraId,
        ip: req.ip,
        detail: { alert: alert.id, kind: alert.kind },
      });
      return alert;
    },
  );

  app.put<{ Params: CameraIdParams; Body: CameraMoveRequest }>(
    '/api/cameras/:id/node',
    { ...routeOf('cameraMove'), onRequest: adminOnly },
    async (req, reply) => {
      const user = userOf(req);
      const cameraId = req.params.id;
      const to = req.body.nodeId;
      const moved = await deps.registry.moveCamera(cameraId, to);
      if (!moved)
        return reply
          .code(404)
          .send(errorBody('UNKNOWN_CAMERA_OR_NODE', `camera ${cameraId} or node ${to} is unknown`));
      await deps.audit.record({
        action: 'camera_move',
        userId: user.id,
        username: user.username,
        cameraId,
        nodeId: to,
        ip: req.ip,
        detail: { from: moved.from, to },
      });
      if (moved.from !== to) {
        // The node that had it is told; it may be offline (the command then times out): the
        // move stands either way, and its uploads and events for the camera are refused.
        const args: CameraMovedArgs = { camera: cameraId, nodeId: to, by: user.username };
        deps.commands.send(moved.from, CAMERA_MOVED_COMMAND, args, 10_000).catch((err: Error) => {
          req.log.warn(
            { err: err.message, nodeId: moved.from, cameraId },
            'node not told of the camera move',
          );
        });
      }
      return { cameraId, nodeId: to, from: moved.from };
    },
  );
};
