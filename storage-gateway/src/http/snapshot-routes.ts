import { isSnapshotName, isValidId, snapshotEventId } from '@cctv/protocol';
import { gatewayRoutes } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GrantError } from '../auth/grant-verifier.ts';
import { SnapshotError } from '../snapshots/snapshot-error.ts';
import type { SnapshotEvents } from '../snapshots/snapshot-events.ts';
import type { SnapshotService } from '../snapshots/snapshot-service.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { etagMatches, sendOpenedFile } from './file-reply.ts';
import { privateCache, requireGrant, requireInRange } from './grant-scope.ts';
import { sendError } from './http-error.ts';
import { fromGrantedContract } from './route-contract.ts';
import { streamedUploadRoutes } from './upload-routes.ts';

export interface SnapshotRoutesOptions {
  snapshots: SnapshotService;
}

export interface SnapshotReadRoutesOptions {
  snapshotStore: SnapshotStore;
  events: SnapshotEvents;
  now: () => Date;
}

interface SnapshotParams {
  camera: string;
  name: string;
}

const BAD_PATH = 'snapshot path must be /v1/snapshots/<camera>/<name>.jpg';

/** `PUT /v1/snapshots/:camera/:name`: uploads by the camera's node. */
export async function snapshotRoutes(app: FastifyInstance, opts: SnapshotRoutesOptions): Promise<void> {
  streamedUploadRoutes(app, opts.snapshots, {
    upload: gatewayRoutes.snapshotUpload,
    badPath: gatewayRoutes.snapshotUploadBadPath,
    badPathError: () => new SnapshotError('bad_name', BAD_PATH),
  });
}

const badRequest = (reply: FastifyReply, camera: string, name: string): FastifyReply | null => {
  if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
  if (!isSnapshotName(name))
    return sendError(reply, 400, 'bad_name', 'snapshot name must be a plain *.jpg name');
  return null;
};

/**
 * `GET /v1/g/<grant>/snapshots/:camera/:name`: an event's snapshot, under a snapshot grant for
 * its camera whose range holds the event's start.
 */
export async function snapshotReadRoutes(
  app: FastifyInstance,
  opts: SnapshotReadRoutesOptions,
): Promise<void> {
  const { snapshotStore, events } = opts;
  app.route<{ Params: SnapshotParams }>({
    ...fromGrantedContract(gatewayRoutes.snapshot),
    handler: async (request, reply) => {
      const { camera, name } = request.params;
      const refused = badRequest(reply, camera, name);
      if (refused) return refused;
      const grant = requireGrant(request, camera, ['snapshot']);
      const eventId = snapshotEventId(name);
      if (!eventId) throw new GrantError('outside_grant', `${name} is not an event's snapshot`);
      const event = await events.find(eventId);
      if (!event) return sendError(reply, 404, 'not_found', `no event ${eventId}`);
      if (event.cameraId !== camera)
        throw new GrantError('wrong_camera', `event ${eventId} is not of camera ${camera}`);
      requireInRange(grant, event.startedAt.getTime(), `event ${eventId}`);
      const opened = await snapshotStore.open(camera, name);
      if (!opened) return sendError(reply, 404, 'not_found', `no snapshot ${camera}/${name}`);
      // A name is never reused for other bytes (409) and a stored file is never rewritten,
      // so size and mtime identify the content as well as its hash would, without a read.
      const etag = `"${opened.size.toString(16)}-${Math.trunc(opened.mtime.getTime()).toString(16)}"`;
      reply
        .header('content-type', 'image/jpeg')
        .header('cache-control', privateCache(grant, opts.now().getTime()))
        .header('etag', etag)
        .header('last-modified', opened.mtime.toUTCString());
      if (etagMatches(request.headers['if-none-match'], etag)) {
        await opened.handle.close();
        return reply.code(304).send();
      }
      return sendOpenedFile(request, reply, opened);
    },
  });

  app.route<{ Params: { '*': string } }>({
    ...fromGrantedContract(gatewayRoutes.snapshotBadPath),
    handler: async (request, reply) => {
      const [camera = '', ...rest] = request.params['*'].split('/');
      return badRequest(reply, camera, rest.join('/')) ?? sendError(reply, 400, 'bad_name', BAD_PATH);
    },
  });
}
