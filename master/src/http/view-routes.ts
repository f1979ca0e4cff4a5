/**
 * Opening a camera view: `POST /api/cameras/:id/playback` (a recorded range) and
 * `POST /api/cameras/:id/live`. Both check that the user may see the camera and write the
 * audit entry before answering, so every view a dashboard shows has its row; the gateway URLs
 * they answer with carry a grant for this user, camera and range, which the gateway checks.
 */
import { randomUUID } from 'node:crypto';
import {
  type CameraIdParams,
  grantedPaths,
  LIVE_COMMANDS,
  type LiveViewGrant,
  type LiveViewRequest,
  type PlaybackGrant,
  type PlaybackRequest,
  validators,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { canSeeCamera } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import type { NodeCommands } from '../fleet/node-commands.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { GrantIssuer } from '../grants/grant-issuer.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { routeOf } from './route-schema.ts';
import { forbid, userOf } from './session-auth.ts';

export interface ViewRouteDeps {
  registry: Pick<FleetReads, 'camera'>;
  audit: AuditLog;
  metrics: MasterMetrics;
  /** The gateway's base URL as browsers reach it (`GATEWAY_PUBLIC_URL`). */
  gatewayUrl: string;
  grants: Pick<GrantIssuer, 'issue' | 'live'>;
  /** Asks the camera's node for its low-latency live feed; absent: live HLS as recorded only. */
  commands?: Pick<NodeCommands, 'send'>;
}

/** How long a live view waits for the node to start its low-latency feed before going without. */
const FEED_OPEN_TIMEOUT_MS = 3000;

const MAX_PLAYBACK_MS = 24 * 3600_000;
export const viewRoutes: FastifyPluginAsync<ViewRouteDeps> = async (app, deps) => {
  /** Whether the node sends the camera's low-latency feed now (started, or running already). */
  const openFeed = async (nodeId: string, cameraId: string, log: (msg: string, err: string) => void) => {
    if (!deps.commands) return false;
    const command = LIVE_COMMANDS.hls;
    try {
      const { reply } = await deps.commands.send(nodeId, command, { camera: cameraId }, FEED_OPEN_TIMEOUT_MS);
      const ok = reply.ok && validators.liveHlsOpenResult.validate(reply.result ?? {}).ok;
      deps.metrics.nodeCommands.inc({ command, result: ok ? 'ok' : 'error' });
      if (!ok) log('no low-latency live feed: the node refused', reply.error?.message ?? 'malformed answer');
      return ok;
    } catch (err) {
      deps.metrics.nodeCommands.inc({ command, result: 'timeout' });
      log('no low-latency live feed: the node did not answer', (err as Error).message);
      return false;
    }
  };

  app.post<{ Params: CameraIdParams; Body: PlaybackRequest }>(
    '/api/cameras/:id/playback',
    routeOf('playback'),
    async (req, reply): Promise<PlaybackGrant | undefined> => {
      const user = userOf(req);
      const cameraId = req.params.id;
      if (!canSeeCamera(user, cameraId))
        return forbid(reply, deps.metrics, 'camera', `camera ${cameraId} is not in your access list`);
      const from = new Date(req.body.from);
      const to = new Date(req.body.to);
      if (from >= to || to.getTime() - from.getTime() > MAX_PLAYBACK_MS) {
        deps.metrics.httpBadRequests.inc({ route: '/api/cameras/:id/playback', reason: 'range' });
        return reply
          .code(400)
          .send(errorBody('BAD_RANGE', 'from must be earlier than to, and the range at most 24 h'));
      }
      const camera = await deps.registry.camera(cameraId);
      if (!camera) return reply.code(404).send(errorBody('UNKNOWN_CAMERA', `camera ${cameraId} is unknown`));
      const renewal = req.body.renewal === true;
      await deps.audit.record({
        action: 'playback',
        userId: user.id,
        username: user.username,
        cameraId,
        nodeId: camera.nodeId,
        ip: req.ip,
        detail: { from: from.toISOString(), to: to.toISOString(), ...(renewal ? { renewal } : {}) },
      });
      const grant = await deps.grants.issue({ userId: user.id, cameraId, scope: 'vod', from, to });
      reply.header('cache-control', 'no-store');
      return {
        cameraId,
        from: from.toISOString(),
        to: to.toISOString(),
        expiresAt: grant.expiresAt.toISOString(),
        playlistUrl: `${deps.gatewayUrl}${grantedPaths.vod(grant.token, cameraId)}`,
        h264PlaylistUrl: `${deps.gatewayUrl}${grantedPaths.vodH264(grant.token, cameraId)}`,
      };
    },
  );

  app.post<{ Params: CameraIdParams; Body: LiveViewRequest | null | undefined }>(
    '/api/cameras/:id/live',
    // The body is optional: a bare POST opens a view.
    routeOf('live'),
    async (req, reply): Promise<LiveViewGrant | undefined> => {
      const user = userOf(req);
      const cameraId = req.params.id;
      if (!canSeeCamera(user, cameraId))
        return forbid(reply, deps.metrics, 'camera', `camera ${cameraId} is not in your access list`);
      const camera = await deps.registry.camera(cameraId);
      if (!camera) return reply.code(404).send(errorBody('UNKNOWN_CAMERA', `camera ${cameraId} is unknown`));
      const viewId = randomUUID();
      const renewal = req.body?.renewal === true;
      await deps.audit.record({
        action: 'live_view',
        userId: user.id,
        username: user.username,
        cameraId,
        nodeId: camera.nodeId,
        ip: req.ip,
        detail: { viewId, ...(renewal ? { renewal } : {}) },
      });
      const feedOpened = openFeed(camera.nodeId, cameraId, (msg, err) =>
        req.log.info({ cameraId, err }, msg),
      );
      // A renewal only keeps the feed going: the player waits for its new grant, not for the node.
      const [grant, feed] = await Promise.all([
        deps.grants.live(user.id, cameraId),
        renewal ? false : feedOpened,
      ]);
      reply.header('cache-control', 'no-store');
      return {
        cameraId,
        nodeId: camera.nodeId,
        viewId,
        at: new Date().toISOString(),
        expiresAt: grant.expiresAt.toISOString(),
        hlsUrl: `${deps.gatewayUrl}${grantedPaths.live(grant.token, cameraId)}`,
        hlsH264Url: `${deps.gatewayUrl}${grantedPaths.liveH264(grant.token, cameraId)}`,
        ...(feed
          ? { llHlsUrl: `${deps.gatewayUrl}${grantedPaths.liveLowLatency(grant.token, cameraId)}` }
          : {}),
      } satisfies LiveViewGrant;
    },
  );
};
