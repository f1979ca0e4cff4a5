/**
 * The one reader of upload headers, for segments and snapshots alike (`SEGMENT_HEADERS`,
 * `SNAPSHOT_HEADERS` share the sha256 and node names) and for the upload token check: one value
 * per header, trimmed; a repeated header counts as absent, since it is ambiguous.
 */
import { isValidId, SEGMENT_HEADERS, type SegmentKind, SHA256_RE, segmentKind } from '@cctv/protocol';
import { parseIsoTime } from '@cctv/protocol/patterns';

export type RawHeaders = Record<string, string | string[] | undefined>;

/** What the uploader tells us about a media segment, beyond its bytes. */
export interface MediaMeta {
  nodeId: string;
  initName: string;
  startAt: Date;
  durationMs: number;
  codec: string;
}

/** The headers every upload carries. */
export interface UploadHeaders {
  sha256: string;
  nodeId: string | null;
}

/** A segment upload's headers: media segments also say what they are. */
export interface SegmentHeaders extends UploadHeaders {
  /** Present for media segments, null for init files. */
  media: MediaMeta | null;
}

/** Longest segment we index; the agent cuts 2–6 s, so this only catches nonsense. */
export const MAX_DURATION_MS = 10 * 60 * 1000;
const codecRe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One header's value, trimmed; undefined when absent or repeated. */
export function headerValue(headers: RawHeaders, key: string): string | undefined {
  const v = headers[key];
  return Array.isArray(v) ? undefined : v?.trim();
}

/** The body size the request declares (`content-length`), or null when it declares none. */
export function declaredLength(headers: RawHeaders): number | null {
  const declared = Number(headers['content-length']);
  return Number.isFinite(declared) ? declared : null;
}

/**
 * The `x-cctv-sha256` (required) and `x-cctv-node` (optional here) of any upload. Throws
 * `refuse(message)` naming the first bad header: the caller's own `bad_headers` refusal.
 */
export function readUploadHeaders(headers: RawHeaders, refuse: (message: string) => Error): UploadHeaders {
  const bad = (key: string, why: string) => refuse(`header ${key} ${why}`);
  const sha256 = headerValue(headers, SEGMENT_HEADERS.sha256);
  if (!sha256) throw bad(SEGMENT_HEADERS.sha256, 'is required');
  if (!SHA256_RE.test(sha256)) throw bad(SEGMENT_HEADERS.sha256, 'must be 64 lowercase hex digits');
  const nodeId = headerValue(headers, SEGMENT_HEADERS.node) || null;
  if (nodeId !== null && !isValidId(nodeId)) throw bad(SEGMENT_HEADERS.node, 'is not a valid node id');
  return { sha256, nodeId };
}

/** A segment upload's headers: the common ones, and for media what the segment is. */
export function readSegmentHeaders(
  kind: SegmentKind,
  headers: RawHeaders,
  refuse: (message: string) => Error,
): SegmentHeaders {
  const common = readUploadHeaders(headers, refuse);
  if (kind === 'init') return { ...common, media: null };

  const bad = (key: string, why: string) => refuse(`header ${key} ${why}`);
  const { nodeId } = common;
  if (nodeId === null) throw bad(SEGMENT_HEADERS.node, 'is required for media segments');
  const initName = headerValue(headers, SEGMENT_HEADERS.init);
  if (!initName || segmentKind(initName) !== 'init')
    throw bad(SEGMENT_HEADERS.init, 'must name the init file (*.mp4) of this segment');
  const startAt = parseIsoTime(headerValue(headers, SEGMENT_HEADERS.start));
  if (!startAt) throw bad(SEGMENT_HEADERS.start, 'must be an ISO-8601 date-time with zone');
  const rawDuration = headerValue(headers, SEGMENT_HEADERS.durationMs) ?? '';
  const durationMs = Number(rawDuration);
  if (!/^\d+$/.test(rawDuration) || durationMs < 1 || durationMs > MAX_DURATION_MS)
    throw bad(SEGMENT_HEADERS.durationMs, `must be an integer from 1 to ${MAX_DURATION_MS}`);
  const codec = headerValue(headers, SEGMENT_HEADERS.codec);
  if (!codec || !codecRe.test(codec)) throw bad(SEGMENT_HEADERS.codec, 'must be a codec name such as hvc1');
  return { ...common, media: { nodeId, initName, startAt, durationMs, codec } };
}
