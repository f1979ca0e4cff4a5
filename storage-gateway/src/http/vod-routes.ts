import { isValidId, segmentPath } from '@cctv/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SegmentRecord, SegmentRepository } from '../index/segment-repository.ts';
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

/** A range reaching into the present may still gain segments (uploads lag behind). */
export const playlistCacheControl = (to: Date, now: Date) =>
  to.getTime() < now.getTime() - 60 * 60 * 1000 ? 'public, max-age=60' : 'no-cache';

/**
 * The playable segments a playlist request asks for, or null once the refusal (400 bad camera
 * or range, 404 none) has been sent. Shared by every playlist route.
 */
export async function segmentsForPlaylist(
  index: SegmentRepository,
  reply: FastifyReply,
  camera: string,
  query: Record<string, unknown>,
): Promise<{ segments: SegmentRecord[]; to: Date } | null> {
  if (!isValidId(camera)) {
    sendError(reply, 400, 'bad_camera', 'camera id is not valid');
    return null;
  }
  const range = parseTimeRange(query.from, query.to);
  if (!range.ok) {
    sendError(reply, 400, 'bad_range', range.message);
    return null;
  }
  const segments = await index.listByStart(camera, range.from, range.to);
  if (segments.length === 0) {
    sendError(reply, 404, 'no_segments', `no recordings of ${camera} start in the requested range`);
    return null;
  }
  return { segments, to: range.to };
}

export async function vodRoutes(app: FastifyInstance, opts: VodRoutesOptions): Promise<void> {
  app.get<{ Params: { camera: string }; Querystring: Record<string, unknown> }>(
    '/v1/vod/:camera.m3u8',
    async (request, reply) => {
      const { camera } = request.params;
      const found = await segmentsForPlaylist(opts.index, reply, camera, request.query);
      if (!found) return reply;
      return reply
        .header('content-type', 'application/vnd.apple.mpegurl')
        .header('cache-control', playlistCacheControl(found.to, opts.now()))
        .send(buildVodPlaylist(found.segments, { uri: (name) => relativeSegmentUri(camera, name) }));
    },
  );
}
