import { isValidId, type SegmentKind, segmentKind } from '@cctv/protocol';
import { gatewayPaths, gatewayRoutes } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance } from 'fastify';
import type { PeerReads } from '../cluster/peer-reads.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import { IngestError } from '../ingest/ingest-error.ts';
import type { IngestService } from '../ingest/ingest-service.ts';
import { sendOpenedFile } from './file-reply.ts';
import { privateCache, requireGrant, requireInRange, type SegmentTimes } from './grant-scope.ts';
import { sendError } from './http-error.ts';
import { fromGrantedContract } from './route-contract.ts';
import { streamedUploadRoutes } from './upload-routes.ts';

export interface SegmentRoutesOptions {
  ingest: IngestService;
}

export interface SegmentReadRoutesOptions {
  files: SegmentFiles;
  times: SegmentTimes;
  now: () => Date;
  /** Files in neither the buffer nor the NAS, read from the peer gateway whose buffer holds them. */
  peers?: PeerReads;
}

const CONTENT_TYPE: Record<SegmentKind, string> = { init: 'video/mp4', media: 'video/iso.segment' };

interface SegmentParams {
  grant: string;
  camera: string;
  name: string;
}

/** `PUT /v1/segments/:camera/:name`: uploads by the camera's node. */
export async function segmentRoutes(app: FastifyInstance, opts: SegmentRoutesOptions): Promise<void> {
  streamedUploadRoutes(app, opts.ingest, {
    upload: gatewayRoutes.segmentUpload,
    badPath: gatewayRoutes.segmentUploadBadPath,
    badPathError: () => new IngestError('bad_name', 'segment path must be /v1/segments/<camera>/<name>'),
  });
}

/**
 * `GET /v1/g/<grant>/segments/:camera/:name`: a media segment that starts in the grant's range,
 * or an init file of the granted camera (codec parameters, no picture).
 */
export async function segmentReadRoutes(app: FastifyInstance, opts: SegmentReadRoutesOptions): Promise<void> {
  const { files, times } = opts;
  app.route<{ Params: SegmentParams }>({
    ...fromGrantedContract(gatewayRoutes.segment),
    handler: async (request, reply) => {
      const { camera, name } = request.params;
      if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
      const grant = requireGrant(request, camera, ['vod', 'live']);
      const kind = segmentKind(name);
      if (!kind) return sendError(reply, 400, 'bad_name', 'segment name must be a plain *.m4s or *.mp4 name');
      if (kind === 'media') {
        const startMs = await times.startMs(camera, name);
        if (startMs === null)
          return sendError(reply, 404, 'not_found', `no indexed segment ${camera}/${name}`);
        requireInRange(grant, startMs, `segment ${name}`);
      }
      const opened = await files.open(camera, name);
      if (!opened) {
        // Acknowledged by another gateway and still in its buffer: that one serves it.
        const path = gatewayPaths.segment(request.params.grant, camera, name);
        const forwarded = await opts.peers?.serve(request, reply, camera, [name], path);
        return forwarded ?? sendError(reply, 404, 'not_found', `no segment ${camera}/${name}`);
      }
      reply
        .header('content-type', CONTENT_TYPE[kind])
        // A name is never reused for other bytes (409), so a segment never changes; only the
        // browser holding the grant may keep it, for as long as the grant lives.
        .header('cache-control', privateCache(grant, opts.now().getTime()))
        .header('last-modified', opened.mtime.toUTCString())
        .header('x-cctv-location', opened.location);
      return sendOpenedFile(request, reply, opened);
    },
  });
}
