import { isValidId, SEGMENT_HEADERS, type SegmentKind, SHA256_RE, segmentKind } from '@cctv/protocol';
import { parseIsoTime } from '@cctv/protocol/patterns';
import { IngestError } from './ingest-error.ts';

type Headers = Record<string, string | string[] | undefined>;

/** What the uploader tells us about a media segment, beyond its bytes. */
export interface MediaMeta {
  nodeId: string;
  initName: string;
  startAt: Date;
  durationMs: number;
  codec: string;
}

export interface UploadHeaders {
  sha256: string;
  nodeId: string | null;
  /** Present for media segments, null for init files. */
  media: MediaMeta | null;
}

/** Longest segment we index; the agent cuts 2–6 s, so this only catches nonsense. */
export const MAX_DURATION_MS = 10 * 60 * 1000;
const codecRe = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function single(headers: Headers, key: string): string | undefined {
  const v = headers[key];
  return Array.isArray(v) ? undefined : v?.trim();
}

/** Validates the `x-cctv-*` headers of an upload; throws `bad_headers` naming the first bad one. */
export function parseUploadHeaders(kind: SegmentKind, headers: Headers): UploadHeaders {
  const bad = (key: string, why: string) => new IngestError('bad_headers', `header ${key} ${why}`);
  const sha256 = single(headers, SEGMENT_HEADERS.sha256);
  if (!sha256) throw bad(SEGMENT_HEADERS.sha256, 'is required');
  if (!SHA256_RE.test(sha256)) throw bad(SEGMENT_HEADERS.sha256, 'must be 64 lowercase hex digits');

  const nodeId = single(headers, SEGMENT_HEADERS.node) || null;
  if (nodeId !== null && !isValidId(nodeId)) throw bad(SEGMENT_HEADERS.node, 'is not a valid node id');
  if (kind === 'init') return { sha256, nodeId, media: null };

  if (nodeId === null) throw bad(SEGMENT_HEADERS.node, 'is required for media segments');
  const initName = single(headers, SEGMENT_HEADERS.init);
  if (!initName || segmentKind(initName) !== 'init')
    throw bad(SEGMENT_HEADERS.init, 'must name the init file (*.mp4) of this segment');
  const startAt = parseIsoTime(single(headers, SEGMENT_HEADERS.start));
  if (!startAt) throw bad(SEGMENT_HEADERS.start, 'must be an ISO-8601 date-time with zone');
  const rawDuration = single(headers, SEGMENT_HEADERS.durationMs) ?? '';
  const durationMs = Number(rawDuration);
  if (!/^\d+$/.test(rawDuration) || durationMs < 1 || durationMs > MAX_DURATION_MS)
    throw bad(SEGMENT_HEADERS.durationMs, `must be an integer from 1 to ${MAX_DURATION_MS}`);
  const codec = single(headers, SEGMENT_HEADERS.codec);
  if (!codec || !codecRe.test(codec)) throw bad(SEGMENT_HEADERS.codec, 'must be a codec name such as hvc1');
  return { sha256, nodeId, media: { nodeId, initName, startAt, durationMs, codec } };
}
