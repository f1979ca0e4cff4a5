/**
 * The pieces the storage gateway's route contracts are made of (`gateway-routes.ts`): path
 * parameters, upload headers, answer bodies. Plain JSON Schema built with TypeBox; nothing here
 * compiles a validator, so browser code may import it under a CSP without eval.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import { SNAPSHOT_HEADERS, SNAPSHOT_MAX_BYTES } from '../events.ts';
import { GRANT_MAX_LENGTH, ID_PATTERN, ISO_TIME_PATTERN } from '../patterns.ts';
import { SEGMENT_HEADERS } from '../segments.ts';

/** `segmentKind()` as a pattern: a plain name ending `.m4s` (media) or `.mp4` (init), no `..`. */
export const SEGMENT_NAME_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,123}\\.(m4s|mp4)$';
/** `isSnapshotName()` as a pattern. */
export const SNAPSHOT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,123}\\.jpg$';
/** A rendition's file: its media segment's name with `.ts` for `.m4s`. */
export const RENDITION_FILE_PATTERN = '^(?!.*\\.\\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,123}\\.ts$';
export const SHA256_PATTERN = '^[0-9a-f]{64}$';

/** A string with one of `values`: an `enum`, cheap to serialise (no `anyOf` to pick from). */
export const StringEnum = <T extends string>(values: readonly T[], description?: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

/** A string or null, as one type list (serialised without `anyOf`). */
const Nullable = <T>(type: 'integer' | 'string', description: string) =>
  Type.Unsafe<T | null>({ type: [type, 'null'], description });

export const CameraParam = Type.String({ pattern: ID_PATTERN, description: 'camera id' });
export const GrantParam = Type.String({
  minLength: 1,
  maxLength: GRANT_MAX_LENGTH,
  description: 'a grant the master signed (EdDSA JWT) for this camera, scope and range',
});
export const SegmentName = Type.String({
  pattern: SEGMENT_NAME_PATTERN,
  description: 'segment (`*.m4s`) or init file (`*.mp4`) name',
});
export const SnapshotName = Type.String({ pattern: SNAPSHOT_NAME_PATTERN, description: 'snapshot name' });
/** The rest of a path that matched no route of its depth (`cam/../x`, an encoded slash). */
export const RestParam = Type.Object({ '*': Type.String({ description: 'the rest of the path' }) });

/** Every error answer of the gateway. */
export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'snake_case reason' }),
    message: Type.String({ description: 'what and why, for people' }),
  }),
});

/** An error answer; `codes` names the `error.code` values this status carries on the route. */
export const errorAnswer = (codes: string): TSchema => ({ ...ErrorBody, description: codes });

/** An answer whose body is not JSON: a playlist, a picture, media, metrics. */
export const bodyOf = (types: readonly string[], description: string, format?: 'binary') => ({
  description,
  content: Object.fromEntries(
    types.map((type) => [type, { schema: { type: 'string', ...(format ? { format } : {}) } }]),
  ),
});

/** An answer without a body (`304`). */
export const noBody = (description: string) => ({ type: 'null', description });

const header = (description: string, pattern?: string) =>
  Type.Optional(Type.String({ description, ...(pattern ? { pattern } : {}) }));

/**
 * `PUT /v1/segments/…` headers (`SEGMENT_HEADERS`). Which are required depends on the name
 * (media or init), which JSON Schema cannot see: the media ones are optional here and the
 * gateway refuses their absence with `400 bad_headers`.
 */
export const SegmentUploadHeaders = Type.Object({
  [SEGMENT_HEADERS.sha256]: Type.String({ pattern: SHA256_PATTERN, description: 'sha256 of the body' }),
  [SEGMENT_HEADERS.node]: header('node id, the upload token’s node (required for media)', ID_PATTERN),
  [SEGMENT_HEADERS.init]: header('media: the init file (`*.mp4`) this segment needs'),
  [SEGMENT_HEADERS.start]: header('media: wall-clock start, ISO-8601 with zone', ISO_TIME_PATTERN),
  [SEGMENT_HEADERS.durationMs]: header('media: duration in ms, 1–600000', '^\\d{1,6}$'),
  [SEGMENT_HEADERS.codec]: header('media: codec, e.g. hvc1'),
});

/** `PUT /v1/snapshots/…` headers (`SNAPSHOT_HEADERS`). */
export const SnapshotUploadHeaders = Type.Object({
  [SNAPSHOT_HEADERS.sha256]: Type.String({ pattern: SHA256_PATTERN, description: 'sha256 of the body' }),
  [SNAPSHOT_HEADERS.node]: header('node id (logged)', ID_PATTERN),
  'content-type': header('image/jpeg, application/octet-stream or none'),
});

export const SegmentBody = {
  description: 'the segment file, streamed',
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
};
export const SnapshotBody = {
  description: `the JPEG file, at most ${SNAPSHOT_MAX_BYTES} bytes, streamed`,
  content: {
    'image/jpeg': { schema: { type: 'string', format: 'binary' } },
    'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
  },
};

const UploadStatus = StringEnum(['created', 'exists'] as const, 'created (201) or already stored (200)');

export const SegmentUploadResult = Type.Object({
  status: UploadStatus,
  segment: Type.Object({
    camera: Type.String(),
    name: Type.String(),
    kind: StringEnum(['media', 'init'] as const),
    sha256: Type.String(),
    bytes: Type.Integer({ minimum: 0 }),
    location: StringEnum(['buffer', 'nas', 'missing'] as const),
    startMs: Nullable<number>('integer', 'media: recording start (ms since the epoch); init: null'),
  }),
});

export const SnapshotUploadResult = Type.Object({
  status: UploadStatus,
  snapshot: Type.Object({
    camera: Type.String(),
    name: Type.String(),
    sha256: Type.String(),
    bytes: Type.Integer({ minimum: 0 }),
    path: Type.String({ description: 'where the gateway serves it (under a grant)' }),
  }),
});

/**
 * `GET /healthz`. The details are written as they are (any JSON value), so that a figure the
 * gateway cannot compute (NaN) never turns the health answer into a 500.
 */
const detail = (description: string) => Type.Optional(Type.Unknown({ description }));
export const HealthReport = Type.Object(
  {
    status: StringEnum(['ok', 'degraded', 'down'] as const, 'down (503) only when the database is'),
    db: detail('ok or down'),
    nas: detail('ok or failing'),
    nasFailure: detail('why the NAS fails (a reason of cctv_gateway_nas_failures_total), or null'),
    backlog: detail('segments waiting for the NAS'),
    bufferBytes: detail('bytes in the buffer'),
    oldestBufferedAgeS: detail('age in seconds of the oldest buffered segment'),
    lastMoveAt: detail('last NAS move (ISO-8601) or null'),
    lastFailureAt: detail('last NAS failure (ISO-8601) or null'),
    bufferFreeBytes: detail("free bytes on the buffer's file system, or null"),
    bufferTotalBytes: detail("size of the buffer's file system, or null"),
    nasFreeBytes: detail('free bytes on the NAS at the last retention sweep, or null before one'),
    nasTotalBytes: detail('size of the NAS at the last retention sweep, or null'),
  },
  { additionalProperties: true },
);

/** `from`/`to` of a VOD playlist: both or neither, inside the grant's range, at most 24 h. */
export const PlaylistRange = Type.Object({
  from: Type.Optional(Type.String({ pattern: ISO_TIME_PATTERN, description: 'ISO-8601 with zone' })),
  to: Type.Optional(
    Type.String({ pattern: ISO_TIME_PATTERN, description: 'ISO-8601 with zone, after from' }),
  ),
});

/** The part duration a live feed's sender aims at (LL-HLS `PART-TARGET`), in ms. */
export const LIVE_PART_TARGET_HEADER = 'x-cctv-part-target-ms';

/** `PUT /v1/live-parts/…` headers: the node and its upload token, as for segments. */
export const LivePartsUploadHeaders = Type.Object({
  [SEGMENT_HEADERS.node]: header('node id, the upload token’s node', ID_PATTERN),
  [LIVE_PART_TARGET_HEADER]: header(
    'the part duration the sender aims at, in ms, 100–2000 (default 300)',
    '^\\d{3,4}$',
  ),
  'content-type': header('video/mp4'),
});

export const LivePartsBody = {
  description:
    'fragmented MP4 of the camera as it comes (ftyp, moov, then moof+mdat per part), streamed for as long as the feed lasts',
  content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } },
};

export const LiveFeedEnded = Type.Object({
  ended: StringEnum(
    ['idle', 'replaced', 'closed', 'stopped'] as const,
    'idle: nobody watched for a while; replaced: a newer feed of the camera; closed: the body ended; stopped: the gateway stops',
  ),
  parts: Type.Integer({ minimum: 0, description: 'parts received' }),
});

/** A feed id below `live/<camera>/ll/` (base 36 of its start in ms). */
export const LiveFeedParam = Type.String({ pattern: '^[0-9a-z]{1,16}$', description: 'feed id' });
/** `init.mp4`, `<msn>.m4s` (a segment) or `<msn>.<part>.m4s` (a part). */
export const LiveFeedFileParam = Type.String({
  pattern: '^(init\\.mp4|[0-9]{1,16}(\\.[0-9]{1,4})?\\.m4s)$',
  description: 'init.mp4, <msn>.m4s or <msn>.<part>.m4s',
});

/** The blocking reload of LL-HLS: hold the playlist until segment `_HLS_msn` (part `_HLS_part`) is in. */
export const LlPlaylistQuery = Type.Object({
  _HLS_msn: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  _HLS_part: Type.Optional(Type.Integer({ minimum: 0, maximum: 9999 })),
  _HLS_skip: Type.Optional(StringEnum(['YES', 'v2'] as const, 'ignored: no delta playlists')),
});
