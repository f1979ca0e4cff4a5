/**
 * The storage gateway's HTTP contract: every route with its method, URL and schemas (request
 * and every answer, errors included), and the builders of its paths. The gateway registers its
 * routes from `gatewayRoutes`; the master and the dashboard build URLs with `gatewayPaths`.
 * Browser-safe (`@cctv/protocol/gateway-routes`): schemas only, no validator compiled. Over
 * 300 lines on purpose: one table of the gateway's routes, an entry per route.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import {
  bodyOf,
  CameraParam,
  errorAnswer,
  GrantParam,
  HealthReport,
  LiveFeedEnded,
  LiveFeedFileParam,
  LiveFeedParam,
  LivePartsBody,
  LivePartsUploadHeaders,
  LlPlaylistQuery,
  noBody,
  PlaylistRange,
  RENDITION_FILE_PATTERN,
  RestParam,
  SegmentBody,
  SegmentName,
  SegmentUploadHeaders,
  SegmentUploadResult,
  SnapshotBody,
  SnapshotName,
  SnapshotUploadHeaders,
  SnapshotUploadResult,
} from './gateway-schemas.ts';

export * from './gateway-paths.ts';
export * from './gateway-schemas.ts';

/** Granted reads live below this prefix; the grant is the path level after `/v1/g/`. */
export const GRANT_PREFIX = '/v1/g/:grant';

/** OpenAPI security schemes the routes name (declared where the document is served). */
export const GATEWAY_SECURITY = { upload: 'uploadToken', ops: 'opsToken' } as const;

export type GatewayMethod = 'GET' | 'HEAD' | 'PUT';

export interface GatewayRoute {
  method: readonly GatewayMethod[];
  /** fastify's URL syntax; granted routes start with `GRANT_PREFIX`. */
  url: string;
  schema: {
    summary: string;
    tags: readonly string[];
    params?: object;
    querystring?: object;
    headers?: object;
    /**
     * The raw request body, for the API document only: the gateway streams it to disk and never
     * lets fastify parse or validate it.
     */
    'x-raw-body'?: object;
    security?: readonly Record<string, readonly string[]>[];
    response: Record<number, object>;
  };
}

const GET = ['GET'] as const;
const READ = ['GET', 'HEAD'] as const;
const PUT = ['PUT'] as const;

const internal = { 500: errorAnswer('internal: an unexpected failure (logged)') };

const upload = (
  summary: string,
  url: string,
  params: object,
  headers: object,
  body: object,
  result: { schema: object; created: string },
  response: Record<number, object>,
): GatewayRoute => ({
  method: PUT,
  url,
  schema: {
    summary,
    tags: ['uploads'],
    params,
    headers,
    'x-raw-body': body,
    security: [{ [GATEWAY_SECURITY.upload]: [] }],
    response: {
      400: errorAnswer('bad_camera, bad_name, bad_headers, aborted (body cut short)'),
      401: errorAnswer('unauthorized: no upload token, or no valid x-cctv-node'),
      403: errorAnswer("forbidden (not the named node's token), not_owner (another node's camera)"),
      409: errorAnswer('conflict: the name is taken by different bytes'),
      413: errorAnswer('too_large'),
      422: errorAnswer('sha256_mismatch: nothing is kept'),
      ...internal,
      200: { ...result.schema, description: 'the same bytes were already stored: nothing changes' },
      201: { ...result.schema, description: result.created },
      ...response,
    },
  },
});

/** A granted read: the grant is verified before the handler, and checked against what it serves. */
const granted = (
  summary: string,
  method: readonly GatewayMethod[],
  url: string,
  params: Record<string, TSchema>,
  response: Record<number, object>,
  querystring?: object,
): GatewayRoute => ({
  method,
  url: `${GRANT_PREFIX}${url}`,
  schema: {
    summary,
    tags: ['footage'],
    params: Type.Object({ grant: GrantParam, ...params }),
    ...(querystring ? { querystring } : {}),
    response: {
      401: errorAnswer('bad_grant, grant_expired, unknown_key'),
      403: errorAnswer('wrong_camera, wrong_scope, outside_grant'),
      ...internal,
      ...response,
    },
  },
});

const media = (types: readonly string[], what: string) => ({
  200: bodyOf(types, what, 'binary'),
  206: bodyOf(types, `the single byte range asked for (Range), with content-range`, 'binary'),
  416: errorAnswer('range_not_satisfiable: the range lies past the end'),
});

const PLAYLIST = ['application/vnd.apple.mpegurl'] as const;

const vodPlaylist = (summary: string, url: string): GatewayRoute =>
  granted(
    summary,
    GET,
    url,
    { camera: CameraParam },
    {
      200: bodyOf(PLAYLIST, 'HLS VOD playlist of the segments starting in the range'),
      400: errorAnswer('bad_camera, bad_range (malformed from/to, from >= to, over 24 h)'),
      404: errorAnswer('no_segments'),
    },
    PlaylistRange,
  );

const livePlaylist = (summary: string, url: string): GatewayRoute =>
  granted(
    summary,
    GET,
    url,
    { camera: CameraParam },
    {
      200: bodyOf(PLAYLIST, "live HLS playlist of the camera's newest segments"),
      400: errorAnswer('bad_camera'),
      404: errorAnswer('not_live: no segment lately'),
    },
  );

/** The read paths before grants: each answers `401 grant_required`. */
const grantRequired = (root: string): GatewayRoute => ({
  method: READ,
  url: `/v1/${root}/*`,
  schema: {
    summary: `/v1/${root}/… without a grant: refused, with the way to get one`,
    tags: ['footage'],
    params: RestParam,
    response: { 401: errorAnswer('grant_required') },
  },
});

const badPath = (what: string) => errorAnswer(`bad_camera, bad_name: ${what}`);

/** `PUT /v1/<root>/*`: any other depth than `shape`, refused as a bad name once its parts are checked. */
const uploadBadPath = (root: string, shape: string, more: Record<number, object> = {}): GatewayRoute => ({
  method: PUT,
  url: `/v1/${root}/*`,
  schema: {
    summary: `Any other depth under /v1/${root}/: a bad name`,
    tags: ['uploads'],
    params: RestParam,
    response: {
      400: badPath(`the path must be /v1/${root}/${shape}; also bad_headers`),
      413: errorAnswer('too_large'),
      ...more,
    },
  },
});

export const gatewayRoutes = {
  segmentUpload: upload(
    'Upload a segment or init file (idempotent by name)',
    '/v1/segments/:camera/:name',
    Type.Object({ camera: CameraParam, name: SegmentName }),
    SegmentUploadHeaders,
    SegmentBody,
    { schema: SegmentUploadResult, created: 'stored, fsynced and (media) indexed' },
    { 503: errorAnswer('storage_failed, buffer_full or nas_behind (with Retry-After)') },
  ),
  segmentUploadBadPath: uploadBadPath('segments', '<camera>/<name>'),
  snapshotUpload: upload(
    'Upload an event snapshot (JPEG, idempotent by name)',
    '/v1/snapshots/:camera/:name',
    Type.Object({ camera: CameraParam, name: SnapshotName }),
    SnapshotUploadHeaders,
    SnapshotBody,
    { schema: SnapshotUploadResult, created: 'stored and fsynced' },
    { 415: errorAnswer('bad_content_type, not_jpeg'), 503: errorAnswer('storage_failed') },
  ),
  snapshotUploadBadPath: uploadBadPath('snapshots', '<camera>/<name>.jpg', {
    415: errorAnswer('bad_content_type'),
  }),
  vodWithoutGrant: grantRequired('vod'),
  liveWithoutGrant: grantRequired('live'),
  segmentsWithoutGrant: grantRequired('segments'),
  renditionsWithoutGrant: grantRequired('renditions'),
  snapshotsWithoutGrant: grantRequired('snapshots'),
  segment: granted(
    'A segment (vod or live grant, starting in its range) or an init file of the camera',
    READ,
    '/segments/:camera/:name',
    { camera: CameraParam, name: SegmentName },
    {
      ...media(['video/iso.segment', 'video/mp4'], 'the file, from the buffer or the NAS (x-cctv-location)'),
      400: errorAnswer('bad_camera, bad_name'),
      404: errorAnswer('not_found (also a media segment that is not indexed)'),
      503: errorAnswer(
        "peer_unavailable (with Retry-After): the file waits in another gateway's buffer, which cannot be reached",
      ),
    },
  ),
  snapshot: granted(
    "An event's snapshot (snapshot grant; the event started in its range)",
    READ,
    '/snapshots/:camera/:name',
    { camera: CameraParam, name: SnapshotName },
    {
      ...media(['image/jpeg'], 'the JPEG'),
      304: noBody('not modified (If-None-Match)'),
      400: errorAnswer('bad_camera, bad_name'),
      404: errorAnswer('not_found: no such event or snapshot'),
    },
  ),
  snapshotBadPath: granted(
    'Any other depth under snapshots/: a bad name',
    READ,
    '/snapshots/*',
    RestParam.properties,
    {
      400: badPath('the path must be snapshots/<camera>/<name>.jpg'),
    },
  ),
  vodPlaylist: vodPlaylist('VOD playlist (fMP4, H.265 as recorded) of a range', '/vod/:camera.m3u8'),
  vodH264Playlist: vodPlaylist('VOD playlist of H.264 MPEG-TS renditions', '/vod/:camera/h264.m3u8'),
  livePlaylist: livePlaylist('Live playlist (fMP4, as recorded)', '/live/:camera.m3u8'),
  liveH264Playlist: livePlaylist('Live playlist of H.264 MPEG-TS renditions', '/live/:camera/h264.m3u8'),
  livePartsUpload: {
    method: PUT,
    url: '/v1/live-parts/:camera',
    schema: {
      summary:
        "A camera's low-latency live feed from its node, while someone watches: answered when the feed ends",
      tags: ['uploads'],
      params: Type.Object({ camera: CameraParam }),
      headers: LivePartsUploadHeaders,
      'x-raw-body': LivePartsBody,
      security: [{ [GATEWAY_SECURITY.upload]: [] }],
      response: {
        200: { ...LiveFeedEnded, description: 'the feed ended; the node stops sending' },
        400: errorAnswer(
          'bad_camera, bad_headers, bad_stream (not fragmented MP4 of a video track, or a box over the limit)',
        ),
        401: errorAnswer('unauthorized: no upload token, or no valid x-cctv-node'),
        403: errorAnswer("forbidden (not the named node's token), not_owner (another node's camera)"),
        415: errorAnswer('bad_content_type: video/mp4 only'),
        ...internal,
      },
    },
  },
  llPlaylist: granted(
    'Low-latency live playlist (LL-HLS parts of the camera as it comes, while its node sends them)',
    GET,
    '/live/:camera/ll.m3u8',
    { camera: CameraParam },
    {
      200: bodyOf(PLAYLIST, 'LL-HLS playlist; with _HLS_msn (and _HLS_part) held until that is in'),
      400: errorAnswer('bad_camera, bad_request (_HLS_part without _HLS_msn, _HLS_msn too far ahead)'),
      404: errorAnswer('no_feed: the camera is not being sent now (play live.m3u8)'),
    },
    LlPlaylistQuery,
  ),
  llFile: granted(
    'The init, a part or a segment of the low-latency live feed (a hinted part is held until it is in)',
    GET,
    '/live/:camera/ll/:feed/:file',
    { camera: CameraParam, feed: LiveFeedParam, file: LiveFeedFileParam },
    {
      200: bodyOf(['video/mp4', 'video/iso.segment'], 'the bytes, from memory'),
      400: errorAnswer('bad_camera, bad_name'),
      404: errorAnswer('no_feed (that feed ended), not_found (no longer or not yet held)'),
    },
  ),
  rendition: granted(
    'The H.264 rendition of a media segment, transcoded now or from the cache',
    READ,
    '/renditions/h264/:camera/:file',
    {
      camera: CameraParam,
      file: Type.String({ pattern: RENDITION_FILE_PATTERN, description: '<media segment name>.ts' }),
    },
    {
      ...media(['video/mp2t'], 'MPEG-TS, H.264 (x-cctv-rendition: cache or transcode)'),
      400: errorAnswer('bad_camera, bad_name'),
      404: errorAnswer('not_found (not indexed), source_missing (in neither buffer nor NAS)'),
      500: errorAnswer('transcode_failed; internal'),
      503: errorAnswer(
        'busy (with Retry-After), source_unreadable, stopped, peer_unavailable (with Retry-After)',
      ),
      504: errorAnswer('transcode_timeout'),
    },
  ),
  renditionBadPath: granted(
    'Any other depth under renditions/: a bad name',
    READ,
    '/renditions/*',
    RestParam.properties,
    { 400: badPath('the path must be renditions/h264/<camera>/<segment>.ts') },
  ),
  health: {
    method: GET,
    url: '/healthz',
    schema: {
      summary: 'Health: 503 only when the database is down (uploads cannot be acknowledged)',
      tags: ['ops'],
      response: {
        200: { ...HealthReport, description: 'ok, or degraded (the NAS fails; the buffer absorbs it)' },
        503: { ...HealthReport, description: 'down' },
        ...internal,
      },
    },
  },
  metrics: {
    method: GET,
    url: '/metrics',
    schema: {
      summary: 'Prometheus metrics (a bearer token from other hosts with GATEWAY_METRICS_TOKEN)',
      tags: ['ops'],
      // The token, or none: loopback peers are exempt unless GATEWAY_METRICS_TOKEN_LOOPBACK says.
      security: [{ [GATEWAY_SECURITY.ops]: [] }, {}] as Record<string, readonly string[]>[],
      response: {
        200: bodyOf(['text/plain'], 'Prometheus text format'),
        401: errorAnswer('unauthenticated'),
        ...internal,
      },
    },
  },
} satisfies Record<string, GatewayRoute>;

export type GatewayRouteName = keyof typeof gatewayRoutes;

/** The URL of a granted route below its prefix, as registered inside the granted plugin. */
export const underGrantPrefix = (route: GatewayRoute): string => {
  if (!route.url.startsWith(GRANT_PREFIX)) throw new Error(`${route.url} is not a granted route`);
  return route.url.slice(GRANT_PREFIX.length);
};
