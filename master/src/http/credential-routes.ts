/**
 * `POST /api/nodes/:id/credentials`: enrols a node (or rotates its credential with
 * `{"rotate":true}`) and returns the MQTT password once. Admins only, audited, and only with
 * `MASTER_ENROL_API=on`; otherwise enrol with the `master/bin/enrol-node.ts` CLI.
 * `DELETE /api/nodes/:id/credentials`: revokes it (admins, audited, whatever MASTER_ENROL_API
 * says: taking a power away is always allowed): the broker and the gateway refuse the node.
 */
import type { NodeEnrolRequest, NodeIdParams } from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { hasRole } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { type Enrolment, EnrolmentError } from '../auth/node-credentials.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface CredentialRouteDeps {
  enabled: boolean;
  enrol(nodeId: string, rotate: boolean): Promise<Enrolment>;
  /** Deletes the node's credential and ends its MQTT connection; false when it had none. */
  revoke(nodeId: string): Promise<{ revoked: boolean; disconnected: number }>;
  audit: AuditLog;
  metrics: MasterMetrics;
}

export const credentialRoutes: FastifyPluginAsync<CredentialRouteDeps> = async (app, deps) => {
  app.post<{ Params: NodeIdParams; Body: NodeEnrolRequest | null | undefined }>(
    '/api/nodes/:id/credentials',
    // The body is optional: a bare POST enrols.
    { ...routeOf('nodeCredentials'), schemaErrorFormatter: schemaErrorsAs({ params: 'BAD_NODE_ID' }) },
    async (req, reply) => {
      if (!deps.enabled)
        return reply
          .code(403)
          .send(errorBody('ENROL_API_DISABLED', 'the enrolment API is off (MASTER_ENROL_API=off)'));
      const user = userOf(req);
      if (!hasRole(user, 'admin')) return forbid(reply, deps.metrics, 'role', 'only admins may enrol nodes');
      const rotate = req.body?.rotate === true;
      try {
        const e = await deps.enrol(req.params.id, rotate);
        await deps.audit.record({
          action: 'node_enrol',
          userId: user.id,
          username: user.username,
          nodeId: e.nodeId,
          ip: req.ip,
          detail: { rotated: e.rotated },
        });
        // Routes log only failures; an issued credential is worth a line at the master's level.
        app.log.info({ nodeId: e.nodeId, rotated: e.rotated, from: req.ip }, 'node credential issued');
        reply.header('cache-control', 'no-store');
        return reply.code(e.rotated ? 200 : 201).send({
          nodeId: e.nodeId,
          username: e.nodeId,
          password: e.secret,
          uploadToken: e.uploadToken,
          rotated: e.rotated,
        });
      } catch (err) {
        if (!(err instanceof EnrolmentError)) throw err;
        const status = err.code === 'BAD_NODE_ID' ? 400 : 409;
        return reply.code(status).send(errorBody(err.code, err.message));
      }
    },
  );

  app.delete<{ Params: NodeIdParams }>(
    '/api/nodes/:id/credentials',
    { ...routeOf('nodeCredentialsRevoke'), schemaErrorFormatter: schemaErrorsAs({ params: 'BAD_NODE_ID' }) },
    async (req, reply) => {
      const user = userOf(req);
      if (!hasRole(user, 'admin'))
        return forbid(reply, deps.metrics, 'role', 'only admins may revoke node credentials');
      const nodeId = req.params.id;
      const { revoked, disconnected } = await deps.revoke(nodeId);
      if (!revoked)
        return reply.code(404).send(errorBody('NOT_ENROLLED', `node ${nodeId} has no credential to revoke`));
      await deps.audit.record({
        action: 'node_revoke',
        userId: user.id,
        username: user.username,
        nodeId,
        ip: req.ip,
        detail: { disconnected },
      });
      app.log.info({ nodeId, disconnected, from: req.ip }, 'node credential revoked');
      return reply.code(204).send();
    },
  );
};
