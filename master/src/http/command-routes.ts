/**
 * `POST /api/nodes/:id/commands/:name`: relays a command to a node and answers with its reply.
 * Operators may ping; only admins may change a node's cameras (`config`). The node must be one
 * the user can see, and online (or stale); every attempt is audited with its outcome.
 */
import {
  type CommandReply,
  NODE_COMMANDS,
  type NodeCommandName,
  type NodeCommandParams,
  type NodeCommandRequest,
  type Role,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { hasRole, visibleNode } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import { CommandTimeoutError, type NodeCommands } from '../fleet/node-commands.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface CommandRouteDeps {
  commands: Pick<NodeCommands, 'send'>;
  registry: Pick<FleetReads, 'get'>;
  audit: AuditLog;
  metrics: MasterMetrics;
  /** Used when the request names no timeout. */
  defaultTimeoutMs: number;
}

export const commandRoutes: FastifyPluginAsync<CommandRouteDeps> = async (app, deps) => {
  app.post<{ Params: NodeCommandParams; Body: NodeCommandRequest | null | undefined }>(
    '/api/nodes/:id/commands/:name',
    // The body is optional (a bare POST pings); when present it must match NodeCommandRequest.
    {
      ...routeOf('nodeCommand'),
      schemaErrorFormatter: schemaErrorsAs({ 'params/id': 'BAD_NODE_ID', 'params/name': 'UNKNOWN_COMMAND' }),
    },
    async (req, reply) => {
      const user = userOf(req);
      const { id: nodeId, name } = req.params;
      if (!Object.hasOwn(NODE_COMMANDS, name))
        return reply
          .code(400)
          .send(
            errorBody(
              'UNKNOWN_COMMAND',
              `unknown command ${name}; known: ${Object.keys(NODE_COMMANDS).join(', ')}`,
            ),
          );
      const least: Role = NODE_COMMANDS[name as NodeCommandName];
      const node = await deps.registry.get(nodeId);
      if (!node || !visibleNode(user, node))
        return reply.code(404).send(errorBody('UNKNOWN_NODE', `node ${nodeId} is unknown`));
      if (!hasRole(user, least))
        return forbid(reply, deps.metrics, 'role', `${name} needs the ${least} role`);
      if (node.state === 'offline')
        return reply.code(409).send(errorBody('NODE_OFFLINE', `node ${nodeId} is offline`));

      const timeoutMs = req.body?.timeoutMs ?? deps.defaultTimeoutMs;
      const record = (outcome: Record<string, unknown>) =>
        deps.audit.record({
          action: 'node_command',
          userId: user.id,
          username: user.username,
          nodeId,
          ip: req.ip,
          detail: { command: name, ...outcome },
        });
      let answer: { reqId: string; reply: CommandReply };
      try {
        answer = await deps.commands.send(nodeId, name, req.body?.args, timeoutMs);
      } catch (err) {
        if (!(err instanceof CommandTimeoutError)) throw err;
        deps.metrics.nodeCommands.inc({ command: name, result: 'timeout' });
        await record({ ok: false, error: err.code });
        return reply.code(504).send(errorBody(err.code, err.message));
      }
      const { reqId, reply: r } = answer;
      deps.metrics.nodeCommands.inc({ command: name, result: r.ok ? 'ok' : 'error' });
      await record({ reqId, ok: r.ok, ...(r.error ? { error: r.error.code } : {}) });
      if (r.ok) return { reqId, ok: true, result: r.result ?? {}, at: r.at };
      return reply.code(422).send({
        ...errorBody(r.error?.code ?? 'FAILED', r.error?.message ?? 'the node refused the command'),
        reqId,
      });
    },
  );
};
