import { isValidId } from '@cctv/protocol';
import { type GatewayRoute, gatewayRoutes } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LiveConfig } from '../config.ts';
import type { SegmentRepository } from '../index/segment-repository.ts';
import {
  buildLivePlaylist,
  type LiveSegment,
  liveWindow,
  parseAgentName,
  sequenceOf,
} from '../vod/live-playlist.ts';
import { requireGrant, type SegmentTimes } from './grant-scope.ts';
import { sendError } from './http-error.ts';
import { relativeRenditionUri } from './rendition-routes.ts';
import { fromGrantedContract } from './route-contract.ts';
import { relativeSegmentUri } from './vod-routes.ts';

export interface LiveRoutesOptions {
  index: SegmentRepository;
  times: SegmentTimes;
  live: LiveConfig;
  now: () => Date;
}

/**
 * `/v1/g/<grant>/live/<camera>.m3u8` (H.265 fMP4) and `/v1/g/<grant>/live/<camera>/h264.m3u8`
 * (H.264 MPEG-TS renditions): the newest segments of the camera's current recording run, as a
 * live playlist, under a live grant.
 */
export async function liveRoutes(app: FastifyInstance, opts: LiveRoutesOptions): Promise<void> {
  const { index, live } = opts;

  /** The numbered window, or null once the refusal (400 bad camera, 404 not live) is sent. */
  const liveSegments = async (request: FastifyRequest, reply: FastifyReply, camera: string) => {
    if (!isValidId(camera)) {
      sendError(reply, 400, 'bad_camera', 'camera id is not valid');
      return null;
    }
    const grant = requireGrant(request, camera, ['live']);
    // Only segments the grant opens: a long window must not list one from before its range.
    const newest = (await index.newestPlayable(camera, live.windowSegments)).filter(
      (s) => s.startAt.getTime() >= grant.rng[0],
    );
    const last = newest[0];
    const ageMs = last ? opts.now().getTime() - (last.startAt.getTime() + last.durationMs) : Infinity;
    if (!last || ageMs > live.maxAgeS * 1000) {
      sendError(reply, 404, 'not_live', `${camera} has uploaded no segment in the last ${live.maxAgeS} s`);
      return null;
    }
    const window = liveWindow(newest);
    const first = window[0] ?? last;
    const parsed = parseAgentName(first.name);
    let base: number; // sequence number of window[0]
    let discontinuitySequence: number;
    if (parsed) {
      base = sequenceOf(parsed.runStartMs, parsed.counter);
      discontinuitySequence = parsed.runStartMs;
    } else {
      // Not an agent name: the run is the init; number by position among its rows.
      const pos = await index.runPosition(camera, first.initName, first.startAt);
      base = sequenceOf(pos.firstAt.getTime(), pos.count - 1);
      discontinuitySequence = pos.firstAt.getTime();
    }
    const segments: LiveSegment[] = window.map((s, i) => ({ ...s, sequence: base + i }));
    opts.times.remember(camera, segments);
    return { segments, discontinuitySequence };
  };

  const send = (reply: FastifyReply, body: string) =>
    reply
      .header('content-type', 'application/vnd.apple.mpegurl')
      .header('cache-control', 'private, no-cache')
      .send(body);

  const route = (contract: GatewayRoute, uri: (camera: string, name: string) => string, map: boolean) =>
    app.route<{ Params: { camera: string } }>({
      ...fromGrantedContract(contract),
      handler: async (request, reply) => {
        const { camera } = request.params;
        const found = await liveSegments(request, reply, camera);
        if (!found) return reply;
        return send(
          reply,
          buildLivePlaylist(found.segments, {
            uri: (name) => uri(camera, name),
            map,
            discontinuitySequence: found.discontinuitySequence,
          }),
        );
      },
    });

  route(gatewayRoutes.livePlaylist, relativeSegmentUri, true);
  // MPEG-TS carries its codec setup in every segment: no EXT-X-MAP.
  route(gatewayRoutes.liveH264Playlist, relativeRenditionUri, false);
}
