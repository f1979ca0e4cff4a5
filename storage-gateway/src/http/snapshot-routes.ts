import { isSnapshotName, isValidId } from '@cctv/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SnapshotError } from '../snapshots/snapshot-error.ts';
import type { SnapshotService } from '../snapshots/snapshot-service.ts';
import type { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { etagMatches, sendOpenedFile } from './file-reply.ts';
import { sendError } from './http-error.ts';

export interface SnapshotRoutesOptions {
  snapshots: SnapshotService;
  snapshotStore: SnapshotStore;
}

interface SnapshotParams {
  camera: string;
  name: string;
}

const BAD_PATH = 'snapshot path must be /v1/snapshots/<camera>/<name>.jpg';

/** `PUT`, `GET` and `HEAD` of `/v1/snapshots/:camera/:name`. */
export async function snapshotRoutes(app: FastifyInstance, opts: SnapshotRoutesOptions): Promise<void> {
  const { snapshots, snapshotStore } = opts;
  // Bodies are streamed to disk by the snapshot service, never buffered or parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.put<{ Params: SnapshotParams }>('/v1/snapshots/:camera/:name', async (request, reply) => {
    const { camera, name } = request.params;
    const result = await snapshots.upload({ camera, name, headers: request.headers, body: request.raw });
    return reply.code(result.status === 'created' ? 201 : 200).send(result);
  });

  // Anything deeper or shallower (`cam/../x.jpg`, an encoded slash the router split on) is
  // a bad name too, refused and counted like any other.
  app.put<{ Params: { '*': string } }>('/v1/snapshots/*', async (request) => {
    const [camera = '', ...rest] = request.params['*'].split('/');
    snapshots.precheck(camera, rest.join('/'), request.headers);
    throw new SnapshotError('bad_name', BAD_PATH);
  });

  const badRequest = (reply: FastifyReply, camera: string, name: string): FastifyReply | null => {
    if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
    if (!isSnapshotName(name))
      return sendError(reply, 400, 'bad_name', 'snapshot name must be a plain *.jpg name');
    return null;
  };

  app.route<{ Params: SnapshotParams }>({
    method: ['GET', 'HEAD'],
    url: '/v1/snapshots/:camera/:name',
    handler: async (request, reply) => {
      const { camera, name } = request.params;
      const refused = badRequest(reply, camera, name);
      if (refused) return refused;
      const opened = await snapshotStore.open(camera, name);
      if (!opened) return sendError(reply, 404, 'not_found', `no snapshot ${camera}/${name}`);
      // A name is never reused for other bytes (409) and a stored file is never rewritten,
      // so size and mtime identify the content as well as its hash would, without a read.
      const etag = `"${opened.size.toString(16)}-${Math.trunc(opened.mtime.getTime()).toString(16)}"`;
      reply
        .header('content-type', 'image/jpeg')
        .header('cache-control', 'public, max-age=31536000, immutable')
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
    method: ['GET', 'HEAD'],
    url: '/v1/snapshots/*',
    handler: async (request, reply) => {
      const [camera = '', ...rest] = request.params['*'].split('/');
      return badRequest(reply, camera, rest.join('/')) ?? sendError(reply, 400, 'bad_name', BAD_PATH);
    },
  });
}
