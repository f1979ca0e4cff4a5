import { isValidId, segmentKind } from '@cctv/protocol';
import { gatewayPaths, gatewayRoutes, grantRelativePaths } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance } from 'fastify';
import type { PeerReads } from '../cluster/peer-reads.ts';
import type { SegmentRepository } from '../index/segment-repository.ts';
import { RenditionError } from '../rendition/rendition-error.ts';
import type { RenditionService } from '../rendition/rendition-service.ts';
import { buildVodPlaylist } from '../vod/playlist.ts';
import { sendOpenedFile } from './file-reply.ts';
import { privateCache, requireGrant, requireInRange, type SegmentTimes } from './grant-scope.ts';
import { sendError, sendGatewayError } from './http-error.ts';
import { fromGrantedContract } from './route-contract.ts';
import { vodPlaylistRoute } from './vod-routes.ts';

export interface RenditionRoutesOptions {
  index: SegmentRepository;
  times: SegmentTimes;
  renditions: RenditionService;
  now: () => Date;
  /** A source in another gateway's buffer: that gateway makes the rendition. */
  peers?: PeerReads;
}

/**
 * From the playlists at `/v1/g/<grant>/vod/<camera>/h264.m3u8` and `…/live/<camera>/h264.m3u8`,
 * two levels up is `/v1/g/<grant>/`.
 */
export const relativeRenditionUri = (camera: string, name: string) =>
  `../../${grantRelativePaths.rendition(camera, name)}`;

/**
 * H.264 for browsers that cannot decode the recorded H.265 (headless Chromium, Firefox):
 * the same VOD playlist with MPEG-TS segments, each transcoded on first request. Both routes
 * live under a grant; the grant is checked before a transcode slot is asked for.
 */
export async function renditionRoutes(app: FastifyInstance, opts: RenditionRoutesOptions): Promise<void> {
  const { index, renditions } = opts;

  // MPEG-TS carries its codec setup in every segment: no EXT-X-MAP. Discontinuities stay where
  // the source has them (gaps, a new init: timestamps restart there).
  vodPlaylistRoute(app, opts, gatewayRoutes.vodH264Playlist, (segments, camera) =>
    buildVodPlaylist(segments, { uri: (name) => relativeRenditionUri(camera, name), map: false }),
  );

  app.route<{ Params: { grant: string; camera: string; file: string } }>({
    ...fromGrantedContract(gatewayRoutes.rendition),
    handler: async (request, reply) => {
      const { camera, file } = request.params;
      if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
      const grant = requireGrant(request, camera, ['vod', 'live']);
      const name = file.endsWith('.ts') ? `${file.slice(0, -3)}.m4s` : '';
      if (segmentKind(name) !== 'media')
        return sendError(reply, 400, 'bad_name', 'a rendition is named after its segment: <segment>.ts');
      const source = await index.find(camera, name);
      if (!source) return sendError(reply, 404, 'not_found', `no indexed segment ${camera}/${name}`);
      requireInRange(grant, source.startAt.getTime(), `segment ${name}`);
      try {
        const opened = await renditions.open(source);
        reply
          .header('content-type', 'video/mp2t')
          .header('cache-control', privateCache(grant, opts.now().getTime()))
          .header('last-modified', opened.mtime.toUTCString())
          .header('x-cctv-rendition', opened.servedFrom);
        return await sendOpenedFile(request, reply, opened);
      } catch (err) {
        if (!(err instanceof RenditionError)) throw err;
        if (err.code === 'source_missing') {
          const path = gatewayPaths.rendition(request.params.grant, camera, name);
          const names = [name, source.initName];
          const forwarded = await opts.peers?.serve(request, reply, camera, names, path, true);
          if (forwarded) return forwarded;
        }
        // The service has logged the failure with its ffmpeg message; the refusal is logged as usual.
        return sendGatewayError(reply, err);
      }
    },
  });

  // Any other depth (`cam/../x.ts`, an encoded slash the router split on) is a bad name.
  app.route<{ Params: { '*': string } }>({
    ...fromGrantedContract(gatewayRoutes.renditionBadPath),
    handler: async (_request, reply) =>
      sendError(
        reply,
        400,
        'bad_name',
        'rendition path must be /v1/g/<grant>/renditions/h264/<camera>/<segment>.ts',
      ),
  });
}
