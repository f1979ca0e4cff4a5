import { isValidId, segmentPath } from '@cctv/protocol';
import type { FastifyInstance } from 'fastify';
import type { SegmentRepository } from '../index/segment-repository.ts';
import { buildVodPlaylist } from '../vod/playlist.ts';
import { parseTimeRange } from '../vod/time-range.ts';
import { sendError } from './http-error.ts';

export interface VodRoutesOptions {
  index: SegmentRepository;
  now: () => Date;
}

/**
 * The playlist lives at `/v1/vod/<camera>.m3u8` and its segments at
 * `/v1/segments/<camera>/<name>`, so `../segments/...` resolves from the playlist's own
 * URL; no host or prefix is baked in, which keeps it valid behind a reverse proxy.
 */
export const relativeSegmentUri = (camera: string, name: string) => `..${segmentPath(camera, name).slice(3)}`;

export async function vodRoutes(app: FastifyInstance, opts: VodRoutesOptions): Promise<void> {
  app.get<{ Params: { camera: string }; Querystring: Record<string, unknown> }>(
    '/v1/vod/:camera.m3u8',
    async (request, reply) => {
      const { camera } = request.params;
      if (!isValidId(camera)) return sendError(reply, 400, 'bad_camera', 'camera id is not valid');
      const range = parseTimeRange(request.query.from, request.query.to);
      if (!range.ok) return sendError(reply, 400, 'bad_range', range.message);
      const segments = await opts.index.listByStart(camera, range.from, range.to);
      if (segments.length === 0)
        return sendError(
          reply,
          404,
          'no_segments',
          `no recordings of ${camera} start in the requested range`,
        );
      // A range reaching into the present may still gain segments (uploads lag behind).
      const settled = range.to.getTime() < opts.now().getTime() - 60 * 60 * 1000;
      return reply
        .header('content-type', 'application/vnd.apple.mpegurl')
        .header('cache-control', settled ? 'public, max-age=60' : 'no-cache')
        .send(buildVodPlaylist(segments, { uri: (name) => relativeSegmentUri(camera, name) }));
    },
  );
}
