/**
 * Opening a camera view: `POST /api/cameras/:id/playback` (a recorded range) and
 * `POST /api/cameras/:id/live`. Both check that the user may see the camera and write the
 * audit entry before answering, so every view a dashboard shows has its row.
 */
import { randomUUID } from 'node:crypto';
import {
  CameraIdParams,
  type LiveViewGrant,
  liveH264Path,
  livePath,
  type PlaybackGrant,
  PlaybackRequest,
  vodH264Path,
  vodPath,
} from '@cctv/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { canSeeCamera } from '../auth/access.ts';
import type { AuditLog } from '../auth/audit-log.ts';
import type { FleetReads } from '../fleet/node-repository.ts';
import type { MasterMetrics } from '../metrics.ts';
import { errorBody } from './error-body.ts';
import { forbid, userOf } from './session-auth.ts';

export interface ViewRouteDeps {
  registry: Pick<FleetReads, 'camera'>;
  audit: AuditLog;
  metrics: MasterMetrics;
  gatewayUrl: string;
}

const MAX_PLAYBACK_MS = 24 * 3600_000;
export const viewRoutes: FastifyPluginAsync<ViewRouteDeps> = async (app, deps) => {
  app.post<{ Params: CameraIdParams; Body: PlaybackRequest }>(
    '/api/cameras/:id/playback',
    { schema: { params: CameraIdParams, body: PlaybackRequest } },
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
      const rangeUrl = (path: string) => {
        const url = new URL(`${deps.gatewayUrl}${path}`);
        url.searchParams.set('from', from.toISOString());
        url.searchParams.set('to', to.toISOString());
        return url.toString();
      };
      await deps.audit.record({
        action: 'playback',
        userId: user.id,
        username: user.username,
        cameraId,
        nodeId: camera.nodeId,
        ip: req.ip,
        detail: { from: from.toISOString(), to: to.toISOString() },
      });
      return {
        cameraId,
        from: from.toISOString(),
        to: to.toISOString(),
        playlistUrl: rangeUrl(vodPath(cameraId)),
        h264PlaylistUrl: rangeUrl(vodH264Path(cameraId)),
      };
    },
  );

  app.post<{ Params: CameraIdParams }>(
    '/api/cameras/:id/live',
    { schema: { params: CameraIdParams } },
    async (req, reply): Promise<LiveViewGrant | undefined> => {
      const user = userOf(req);
      const cameraId = req.params.id;
      if (!canSeeCamera(user, cameraId))
        return forbid(reply, deps.metrics, 'camera', `camera ${cameraId} is not in your access list`);
      const camera = await deps.registry.camera(cameraId);
      if (!camera) return reply.code(404).send(errorBody('UNKNOWN_CAMERA', `camera ${cameraId} is unknown`));
      const grant: LiveViewGrant = {
        cameraId,
        nodeId: camera.nodeId,
        viewId: randomUUID(),
        at: new Date().toISOString(),
        hlsUrl: `${deps.gatewayUrl}${livePath(cameraId)}`,
        hlsH264Url: `${deps.gatewayUrl}${liveH264Path(cameraId)}`,
      };
      await deps.audit.record({
        action: 'live_view',
        userId: user.id,
        username: user.username,
        cameraId,
        nodeId: camera.nodeId,
        ip: req.ip,
        detail: { viewId: grant.viewId },
      });
      return grant;
    },
  );
};
