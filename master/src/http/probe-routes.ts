/**
 * `POST /api/nodes/:id/probe`: has a node open a camera URL before the camera is saved (`cmd/probe`)
 * and answers what it found, or 422 with the node's reason. Admins, and operators who see every
 * camera, may probe. The password may come apart from the URL (write-only): the master puts it
 * into the URL for the node only; the audit entry, the logs and every answer carry the URL with
 * its password replaced.
 */
import {
  type NodeIdParams,
  type NodeProbeRequest,
  PROBE_ERRORS,
  PROBE_TIMEOUT_MS,
  redactCredentials,
  validators,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { canSeeCamera, hasRole, seesAllCameras, visibleNode } from '../auth/access.ts';
import { CommandTimeoutError, type NodeCommands } from '../fleet/node-commands.ts';
import type { CommandRouteDeps } from './command-routes.ts';
import { errorBody } from './error-body.ts';
import { routeOf, schemaErrorsAs } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

/** What the command route needs, but its default timeout: a probe's comes from its own limit. */
export type ProbeRouteDeps = Omit<CommandRouteDeps, 'defaultTimeoutMs'> & {
  /** A saved camera's URLs and password (config-store.ts), for probing it while it is edited. */
  savedCamera?: (cameraId: string) => Promise<{ urls: string[]; password: string } | null>;
};

/** The URL names a user (a password can go with it). */
function namesUser(url: string): boolean {
  try {
    return new URL(url).username !== '';
  } catch {
    return false;
  }
}

/** Scheme, host and port: a saved password goes only where the camera's own URLs point. */
function origin(url: string): string | null {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port}`;
  } catch {
    return null;
  }
}

/**
 * How long the master waits for the node's reply: the probe's own limit, plus as much again (at
 * least 2 s) for the node to start ffprobe and for the reply to travel. 20 s by default.
 */
export function probeReplyTimeoutMs(probeTimeoutMs: number): number {
  return probeTimeoutMs + Math.max(probeTimeoutMs, 2000);
}

/** The URL the node gets (the password put in), and every form of the password to redact. */
export function probeUrl(raw: string, password: string | undefined): { url: string; secrets: string[] } {
  const url = new URL(raw);
  if (password !== undefined) {
    if (!url.username) throw new Error('the URL names no user for the password: write rtsp://user@host/…');
    // Encoded whole: the URL setter leaves `%` as it is, and ffmpeg decodes the user info.
    url.password = encodeURIComponent(password);
  }
  const secrets = [password, url.password].filter((s): s is string => !!s);
  return { url: password === undefined ? raw : url.href, secrets };
}

export const probeRoutes: FastifyPluginAsync<ProbeRouteDeps> = async (app, deps) => {
  app.post<{ Params: NodeIdParams; Body: NodeProbeRequest }>(
    '/api/nodes/:id/probe',
    {
      ...routeOf('nodeProbe'),
      schemaErrorFormatter: schemaErrorsAs(
        { 'params/id': 'BAD_NODE_ID', 'body/url': PROBE_ERRORS.badUrl },
        { url: 'must be an rtsp://, rtsps://, http:// or https:// URL of at most 2000 characters' },
      ),
    },
    async (req, reply) => {
      const user = userOf(req);
      const nodeId = req.params.id;
      const { cameraId } = req.body;
      // A camera being edited: operators who have it; a new URL: those who may add cameras.
      const allowed = cameraId ? canSeeCamera(user, cameraId) : seesAllCameras(user);
      if (!hasRole(user, 'operator') || !allowed)
        return forbid(
          reply,
          deps.metrics,
          'role',
          cameraId
            ? `probing camera ${cameraId} needs an admin, or an operator who has it`
            : 'probing a camera URL needs an admin, or an operator with access to all cameras',
        );
      const node = await deps.registry.get(nodeId);
      if (!node || !visibleNode(user, node))
        return reply.code(404).send(errorBody('UNKNOWN_NODE', `node ${nodeId} is unknown`));
      if (node.state === 'offline')
        return reply.code(409).send(errorBody('NODE_OFFLINE', `node ${nodeId} is offline`));

      let password = req.body.password;
      if (cameraId && password === undefined) {
        const saved = await deps.savedCamera?.(cameraId);
        if (!saved)
          return reply
            .code(404)
            .send(errorBody('UNKNOWN_CAMERA', `no node's configuration has camera ${cameraId}`));
        const here = origin(req.body.url);
        if (saved.password !== '' && namesUser(req.body.url)) {
          if (!here || !saved.urls.some((u) => origin(u) === here))
            return reply
              .code(400)
              .send(
                errorBody(
                  PROBE_ERRORS.badUrl,
                  `the saved password of ${cameraId} goes only to its own host and port; type it again to probe another`,
                ),
              );
          password = saved.password;
        }
      }
      let target: { url: string; secrets: string[] };
      try {
        target = probeUrl(req.body.url, password);
      } catch (err) {
        const why = err instanceof TypeError ? 'the URL cannot be read' : (err as Error).message;
        return reply.code(400).send(errorBody(PROBE_ERRORS.badUrl, why));
      }
      const redact = (text: string) => redactCredentials(text, target.secrets);
      const timeoutMs = req.body.timeoutMs ?? PROBE_TIMEOUT_MS.default;
      const args = {
        url: target.url,
        timeoutMs,
        ...(req.body.transports ? { transports: req.body.transports } : {}),
      };
      const record = (outcome: Record<string, unknown>) =>
        deps.audit.record({
          action: 'camera_probe',
          userId: user.id,
          username: user.username,
          nodeId,
          ip: req.ip,
          detail: { url: redact(target.url), ...outcome },
        });
      const count = (result: string) => deps.metrics.nodeCommands.inc({ command: 'probe', result });

      let answer: Awaited<ReturnType<NodeCommands['send']>>;
      try {
        answer = await deps.commands.send(nodeId, 'probe', args, probeReplyTimeoutMs(timeoutMs));
      } catch (err) {
        if (!(err instanceof CommandTimeoutError)) throw err;
        count('timeout');
        await record({ ok: false, error: err.code });
        return reply.code(504).send(errorBody(err.code, err.message));
      }
      const { reqId, reply: r } = answer;
      if (!r.ok) {
        count('error');
        const code = r.error?.code ?? PROBE_ERRORS.failed;
        await record({ reqId, ok: false, error: code });
        return reply.code(422).send({
          ...errorBody(code, redact(r.error?.message ?? 'the node could not probe the URL')),
          reqId,
        });
      }
      const result = validators.probeResult.validate(r.result);
      if (!result.ok) {
        count('error');
        await record({ reqId, ok: false, error: 'BAD_NODE_REPLY' });
        req.log.warn({ nodeId, reqId, error: result.error }, 'probe result fails its schema');
        return reply
          .code(502)
          .send(errorBody('BAD_NODE_REPLY', `node ${nodeId} answered an unreadable probe result`));
      }
      count('ok');
      const { codec, width, height, fps, transports } = result.value;
      await record({ reqId, ok: true, codec, width, height, fps, transports });
      return result.value;
    },
  );
};
