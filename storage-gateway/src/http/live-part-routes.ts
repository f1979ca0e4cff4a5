/**
 * Low-latency live HLS: `PUT /v1/live-parts/<camera>` takes a node's feed of its own camera
 * (upload token, as segments), and under a live grant `live/<camera>/ll.m3u8` serves it as an
 * LL-HLS playlist with blocking reloads, `live/<camera>/ll/<feed>/<file>` its init, parts and
 * segments from memory. The recorded live playlists (`live/<camera>.m3u8`) stay as they are.
 */
import { isValidId } from '@cctv/protocol';
import { gatewayRoutes, LIVE_PART_TARGET_HEADER } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { UploadAuth } from '../auth/upload-auth.ts';
import { GatewayError } from '../gateway-error.ts';
import type { FeedEnd, LiveFeed } from '../live/live-feed.ts';
import { LiveFeeds, parseLlFile } from '../live/live-feeds.ts';
import { privateCache, requireGrant, requireInRange } from './grant-scope.ts';
import { fromContract, fromGrantedContract } from './route-contract.ts';

export const LIVE_FEED_REFUSALS = [
  'bad_camera',
  'bad_content_type',
  'bad_headers',
  'bad_stream',
  'unauthorized',
  'forbidden',
  'not_owner',
] as const;
export type LiveFeedRefusal = (typeof LIVE_FEED_REFUSALS)[number];

const STATUS: Record<LiveFeedRefusal, number> = {
  bad_camera: 400,
  bad_content_type: 415,
  bad_headers: 400,
  bad_stream: 400,
  unauthorized: 401,
  forbidden: 403,
  not_owner: 403,
};

export class LiveFeedError extends GatewayError<LiveFeedRefusal> {
  constructor(code: LiveFeedRefusal, message: string) {
    super(code, STATUS[code], message);
  }
}

export interface LiveFeedIngestOptions {
  feeds: LiveFeeds;
  /** Null where uploads are not authenticated (`GATEWAY_UPLOAD_AUTH=none`). */
  auth: UploadAuth | null;
  onRefused: (reason: LiveFeedRefusal) => void;
  onParts: (n: number) => void;
}

/** `PUT /v1/live-parts/:camera`: one node's feed of its camera, answered when the feed ends. */
export async function liveFeedIngestRoutes(app: FastifyInstance, opts: LiveFeedIngestOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  const refuse = (code: LiveFeedRefusal, message: string) => {
    opts.onRefused(code);
    return new LiveFeedError(code, message);
  };
  app.route<{ Params: { camera: string } }>({
    ...fromContract(gatewayRoutes.livePartsUpload),
    attachValidation: true,
    handler: async (request, reply) => {
      const { camera } = request.params;
      if (!isValidId(camera)) throw refuse('bad_camera', 'camera id is not valid');
      const type = request.headers['content-type'];
      if (type !== undefined && type.split(';')[0]?.trim().toLowerCase() !== 'video/mp4')
        throw refuse('bad_content_type', 'a live feed is video/mp4 (fragmented)');
      let nodeId: string | null = null;
      if (opts.auth) {
        const checked = await opts.auth.check(request.headers, camera, request.ip);
        if (!('nodeId' in checked)) throw refuse(checked.code, checked.message);
        nodeId = checked.nodeId;
      }
      const target = request.headers[LIVE_PART_TARGET_HEADER];
      const targetMs = target === undefined ? 300 : Number(target);
      if (!Number.isInteger(targetMs) || targetMs < 100 || targetMs > 2000)
        throw refuse('bad_headers', `${LIVE_PART_TARGET_HEADER} must be 100–2000 (ms)`);
      const feed = opts.feeds.open(camera, nodeId, targetMs / 1000);
      const log = request.log.child({ cameraId: camera, feed: feed.id });
      let badStream: string | null = null;
      const raw = request.raw;
      raw.on('data', (chunk: Buffer) => {
        if (feed.ended) return;
        const before = feed.partCount;
        try {
          feed.push(chunk);
        } catch (err) {
          badStream = (err as Error).message;
          opts.feeds.end(feed, 'bad_stream');
          return;
        }
        if (feed.partCount > before) opts.onParts(feed.partCount - before);
      });
      raw.on('end', () => opts.feeds.end(feed, 'closed'));
      raw.on('close', () => opts.feeds.end(feed, 'closed'));
      log.info('live feed opened');
      const reason = await ended(feed);
      const parts = feed.partCount;
      log.info({ reason, parts }, 'live feed ended');
      // The body may still be coming: the node reads the answer and stops; the socket goes.
      reply.header('connection', 'close');
      reply.raw.once('finish', () => raw.destroy());
      if (reason === 'bad_stream') throw refuse('bad_stream', `not a fragmented MP4 live feed: ${badStream}`);
      return reply.code(200).send({ ended: reason, parts });
    },
  });
}

function ended(feed: LiveFeed): Promise<FeedEnd> {
  return new Promise((resolve) => {
    const check = () => {
      if (feed.ended) resolve(feed.ended);
      else void feed.changed(60_000).then(check);
    };
    check();
  });
}

export interface LlHlsRoutesOptions {
  feeds: LiveFeeds;
  now: () => Date;
}

/** How long a playlist request waits for its camera's feed to open (the node was just asked). */
const FEED_OPEN_WAIT_MS = 5000;

class LlError extends GatewayError<'no_feed' | 'not_found' | 'bad_request' | 'bad_name'> {}

/** The LL-HLS reads, registered under the grant prefix. */
export async function llHlsRoutes(app: FastifyInstance, opts: LlHlsRoutesOptions): Promise<void> {
  const { feeds } = opts;
  const noFeed = (camera: string) =>
    new LlError('no_feed', 404, `${camera} is not being sent for low-latency live now; play its live.m3u8`);

  app.route<{
    Params: { camera: string };
    Querystring: { _HLS_msn?: number; _HLS_part?: number };
  }>({
    ...fromGrantedContract(gatewayRoutes.llPlaylist),
    handler: async (request, reply) => {
      const { camera } = request.params;
      const grant = requireGrant(request, camera, ['live']);
      const { _HLS_msn: msn, _HLS_part: part } = request.query;
      if (part !== undefined && msn === undefined)
        throw new LlError('bad_request', 400, '_HLS_part needs _HLS_msn');
      const feed = await feeds.opened(camera, FEED_OPEN_WAIT_MS);
      if (!feed) throw noFeed(camera);
      // A feed that just opened has no keyframe yet: the first request waits for it.
      const hold = feeds.holdMs(feed);
      if (!(await feed.until(() => feed.last !== undefined, hold))) throw noFeed(camera);
      if (msn !== undefined) {
        const last = feed.last;
        if (last && msn > last.msn + 2)
          throw new LlError('bad_request', 400, `_HLS_msn ${msn} is more than two segments ahead`);
        await feed.until(() => LiveFeeds.has(feed, msn, part), hold);
      }
      if (feed.ended && feed.ended !== 'closed') throw noFeed(camera);
      feeds.read(camera);
      return sendPlaylist(reply, feeds.playlist(feed, grant.rng[0]));
    },
  });

  app.route<{ Params: { camera: string; feed: string; file: string } }>({
    ...fromGrantedContract(gatewayRoutes.llFile),
    handler: async (request, reply) => {
      const { camera, file } = request.params;
      const grant = requireGrant(request, camera, ['live']);
      const wanted = parseLlFile(file);
      if (!wanted) throw new LlError('bad_name', 400, `${file} is not a live feed file`);
      const feed = feeds.read(camera);
      if (!feed || feed.id !== request.params.feed) throw noFeed(camera);
      const cache = privateCache(grant, opts.now().getTime());
      if (wanted.kind === 'init') {
        if (!feed.init) throw new LlError('not_found', 404, 'the feed has no init segment yet');
        return reply.header('content-type', 'video/mp4').header('cache-control', cache).send(feed.init);
      }
      // The part a playlist hinted at is held until it is in; it may turn out to start the next
      // segment instead (a keyframe came), and then it is not found.
      if (wanted.kind === 'part') {
        await feed.until(() => {
          const seg = feed.segment(wanted.msn);
          return !seg || seg.complete || seg.parts.length > wanted.part;
        }, feeds.holdMs(feed));
      }
      const seg = feed.segment(wanted.msn);
      if (!seg) throw new LlError('not_found', 404, `segment ${wanted.msn} is not held`);
      requireInRange(grant, seg.startedAt, 'the segment');
      let body: Buffer | undefined;
      if (wanted.kind === 'segment') {
        if (!seg.complete) throw new LlError('not_found', 404, `segment ${wanted.msn} is not complete yet`);
        body = Buffer.concat(seg.parts.map((p) => p.data));
      } else body = seg.parts[wanted.part]?.data;
      if (!body) throw new LlError('not_found', 404, `${file} is not held`);
      feeds.read(camera);
      return reply.header('content-type', 'video/iso.segment').header('cache-control', cache).send(body);
    },
  });
}

const sendPlaylist = (reply: FastifyReply, body: string) =>
  reply
    .header('content-type', 'application/vnd.apple.mpegurl')
    .header('cache-control', 'private, no-cache')
    .send(body);
