import { isValidId, type SegmentKind, segmentKind } from '@cctv/protocol';
import type { FastifyInstance } from 'fastify';
import type { SegmentFiles } from '../files/segment-files.ts';
import { IngestError } from '../ingest/ingest-error.ts';
import type { IngestService } from '../ingest/ingest-service.ts';
import { sendOpenedFile } from './file-reply.ts';
import { sendError } from './http-error.ts';

export interface SegmentRoutesOptions {
  ingest: IngestService;
  files: SegmentFiles;
}

const CONTENT_TYPE: Record<SegmentKind, string> = { init: 'video/mp4', media: 'video/iso.segment' };

interface SegmentParams {
  camera: string;
  name: string;
}

/** `PUT` and `GET` of `/v1/segments/:camera/:name`. */
export async function segmentRoutes(app: FastifyInstance, opts: SegmentRoutesOptions): Promise<void> {
  const { ingest, files } = opts;
  // Bodies are streamed to disk by the ingest service, never buffered or parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.put<{ Params: SegmentParams }>('/v1/segments/:camera/:name', async (request, reply) => {
    const { camera, name } = request.params;
    const result = await ingest.upload({ camera, name, headers: request.headers, body: request.raw });
    return reply.code(result.status === 'created' ? 201 : 200).send(result);
  });

  // Anything deeper or shallower (`cam/../x.m4s`, an encoded slash the router split on) is
  // a bad name too, refused and counted like any other.
  app.put<{ Params: { '*': string } }>('/v1/segments/*', async (request) => {
    const [camera = '', ...rest] = request.params['*'].split('/');
    ingest.precheck(camera, rest.join('/'), request.headers);
    throw new IngestError('bad_name', 'segment path must be /v1/segments/<camera>/<name>');
  });

  app.route<{ Params: SegmentParams }>({
    method: ['GET', 'HEAD'],
    url: '/v1/segments/:camera/:name',
    handler: async (request, reply) => {
      const { camera, name } = request.params;
      if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
      const kind = segmentKind(name);
      if (!kind) return sendError(reply, 400, 'bad_name', 'segment name must be a plain *.m4s or *.mp4 name');
      const opened = await files.open(camera, name);
      if (!opened) return sendError(reply, 404, 'not_found', `no segment ${camera}/${name}`);
      reply
        .header('content-type', CONTENT_TYPE[kind])
        // A name is never reused for other bytes (409), so a segment never changes.
        .header('cache-control', 'public, max-age=31536000, immutable')
        .header('last-modified', opened.mtime.toUTCString())
        .header('x-cctv-location', opened.location);
      return sendOpenedFile(request, reply, opened);
    },
  });
}
