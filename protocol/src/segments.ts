import { gatewayPaths } from './http/gateway-paths.ts';

/** HTTP contract between the agent's uploader and the storage gateway. */
export const SEGMENT_HEADERS = {
  sha256: 'x-cctv-sha256',
  node: 'x-cctv-node',
  start: 'x-cctv-start',
  durationMs: 'x-cctv-duration-ms',
  init: 'x-cctv-init',
  codec: 'x-cctv-codec',
} as const;

/**
 * Segment and init file names: a plain file name, no path separators, no `..`, ending in
 * `.m4s` (media) or `.mp4` (init).
 */
const nameRe = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export type SegmentKind = 'media' | 'init';

export function segmentKind(name: string): SegmentKind | null {
  if (!nameRe.test(name) || name.includes('..')) return null;
  if (name.endsWith('.m4s')) return 'media';
  if (name.endsWith('.mp4')) return 'init';
  return null;
}

export const SHA256_RE = /^[0-9a-f]{64}$/;

/** Where the agent puts a segment (`gatewayPaths.segmentUpload`). */
export const segmentPath = gatewayPaths.segmentUpload;
export const vodPath = (cameraId: string) => `/v1/vod/${encodeURIComponent(cameraId)}.m3u8`;

/** The same range transcoded to H.264 by the gateway, for browsers that cannot decode H.265. */
export const vodH264Path = (cameraId: string) => `/v1/vod/${encodeURIComponent(cameraId)}/h264.m3u8`;

/** The camera's newest segments as a live HLS playlist (as recorded). */
export const livePath = (cameraId: string) => `/v1/live/${encodeURIComponent(cameraId)}.m3u8`;
/** The live playlist through the gateway's H.264 rendition. */
export const liveH264Path = (cameraId: string) => `/v1/live/${encodeURIComponent(cameraId)}/h264.m3u8`;
