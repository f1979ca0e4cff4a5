import { type GrantClaims, isValidId } from '@cctv/protocol';
import { type GatewayRoute, gatewayRoutes, grantRelativePaths } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GrantError } from '../auth/grant-verifier.ts';
import type { SegmentRecord, SegmentRepository } from '../index/segment-repository.ts';
import { buildVodPlaylist } from '../vod/playlist.ts';
import { parseTimeRange } from '../vod/time-range.ts';
import { privateCache, requireGrant, type SegmentTimes } from './grant-scope.ts';
import { sendError } from './http-error.ts';
import { fromGrantedContract } from './route-contract.ts';

export interface VodRoutesOptions {
  index: SegmentRepository;
  times: SegmentTimes;
  now: () => Date;
}

/**
 * The playlist lives at `/v1/g/<grant>/vod/<camera>.m3u8` and its segments at
 * `/v1/g/<grant>/segments/<camera>/<name>`, so `../segments/...` resolves from the playlist's
 * own URL, grant included; no host or prefix is baked in, which keeps it valid behind a reverse
 * proxy and lets players use a granted URL as it is.
 */
export const relativeSegmentUri = (camera: string, name: string) =>
  `../${grantRelativePaths.segment(camera, name)}`;

/** A range reaching into the present may still gain segments (uploads lag behind). */
export function playlistCacheControl(grant: GrantClaims, nowMs: number): string {
  return grant.rng[1] < nowMs - 60 * 60 * 1000 ? privateCache(grant, nowMs, 60) : 'private, no-cache';
}

/**
 * The range a playlist lists: the grant's own, or a narrower one given as `from`/`to`.
 * Throws GrantError (403) for a range reaching outside the grant.
 */
function rangeOf(grant: GrantClaims, query: Record<string, unknown>): { from: Date; to: Date } | string {
  const [fromMs, toMs] = grant.rng;
  if (query.from === undefined && query.to === undefined)
    return { from: new Date(fromMs), to: new Date(toMs) };
  const range = parseTimeRange(query.from, query.to);
  if (!range.ok) return range.message;
  if (range.from.getTime() < fromMs || range.to.getTime() > toMs)
    throw new GrantError('outside_grant', 'the requested range reaches outside the granted range');
  return range;
}

/**
 * The playable segments a playlist request asks for, or null once the refusal (400 bad camera
 * or range, 404 none) has been sent. Shared by every VOD playlist route; checks the grant.
 */
export async function segmentsForPlaylist(
  opts: Pick<VodRoutesOptions, 'index' | 'times'>,
  request: Parameters<typeof requireGrant>[0],
  reply: FastifyReply,
  camera: string,
): Promise<{ segments: SegmentRecord[]; grant: GrantClaims } | null> {
  if (!isValidId(camera)) {
    sendError(reply, 400, 'bad_camera', 'camera id is not valid');
    return null;
  }
  const grant = requireGrant(request, camera, ['vod']);
  const range = rangeOf(grant, request.query as Record<string, unknown>);
  if (typeof range === 'string') {
    sendError(reply, 400, 'bad_range', range);
    return null;
  }
  const segments = await opts.index.listByStart(camera, range.from, range.to);
  if (segments.length === 0) {
    sendError(reply, 404, 'no_segments', `no recordings of ${camera} start in the requested range`);
    return null;
  }
  opts.times.remember(camera, segments);
  return { segments, grant };
}

/** A VOD playlist route (its URL with a `:camera`), its text made by `build`. */
export function vodPlaylistRoute(
  app: FastifyInstance,
  opts: Pick<VodRoutesOptions, 'index' | 'times' | 'now'>,
  contract: GatewayRoute,
  build: (segments: SegmentRecord[], camera: string) => string,
): void {
  app.route<{ Params: { camera: string } }>({
    ...fromGrantedContract(contract),
    handler: async (request, reply) => {
      const { camera } = request.params;
      const found = await segmentsForPlaylist(opts, request, reply, camera);
      if (!found) return reply;
      return reply
        .header('content-type', 'application/vnd.apple.mpegurl')
        .header('cache-control', playlistCacheControl(found.grant, opts.now().getTime()))
        .send(build(found.segments, camera));
    },
  });
}

export async function vodRoutes(app: FastifyInstance, opts: VodRoutesOptions): Promise<void> {
  vodPlaylistRoute(app, opts, gatewayRoutes.vodPlaylist, (segments, camera) =>
    buildVodPlaylist(segments, { uri: (name) => relativeSegmentUri(camera, name) }),
  );
}
