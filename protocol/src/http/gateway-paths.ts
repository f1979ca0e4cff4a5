/**
 * Paths of the storage gateway's routes (`gateway-routes.ts` has the routes themselves), relative
 * to its base URL, every parameter encoded: the one place the master and the dashboard build
 * gateway URLs, and the gateway its playlists' relative URIs. No dependency at all.
 */
const e = encodeURIComponent;

/** `<segment>.m4s` → `<segment>.ts`: a rendition is named after its media segment. */
export const renditionFile = (segmentName: string) => `${segmentName.replace(/\.m4s$/, '')}.ts`;

/**
 * Paths below `/v1/g/<grant>/`: what a playlist's relative URIs name, so they resolve under the
 * playlist's own grant (`../segments/…` from `vod/<camera>.m3u8`).
 */
export const grantRelativePaths = {
  segment: (camera: string, name: string) => `segments/${e(camera)}/${e(name)}`,
  rendition: (camera: string, segmentName: string) =>
    `renditions/h264/${e(camera)}/${e(renditionFile(segmentName))}`,
};

export interface PlaylistQuery {
  from: string;
  to: string;
}

/** The grant in a granted URL or path, or null. */
export function grantOf(url: string): string | null {
  const m = /\/v1\/g\/([^/?#]+)\//.exec(url);
  return m?.[1] ?? null;
}

/** The same URL under another grant (a player swapping in a renewed grant). */
export function withGrant(url: string, grant: string): string {
  return url.replace(/\/v1\/g\/[^/?#]+\//, `/v1/g/${grant}/`);
}

const underGrant = (grant: string, rest: string) => `/v1/g/${e(grant)}/${rest}`;
const rangeQuery = (range?: PlaylistQuery) => (range ? `?from=${e(range.from)}&to=${e(range.to)}` : '');

/** Paths of the gateway's routes, relative to its base URL; every parameter encoded. */
export const gatewayPaths = {
  segmentUpload: (camera: string, name: string) => `/v1/segments/${e(camera)}/${e(name)}`,
  snapshotUpload: (camera: string, name: string) => `/v1/snapshots/${e(camera)}/${e(name)}`,
  segment: (grant: string, camera: string, name: string) =>
    underGrant(grant, grantRelativePaths.segment(camera, name)),
  snapshot: (grant: string, camera: string, name: string) =>
    underGrant(grant, `snapshots/${e(camera)}/${e(name)}`),
  vodPlaylist: (grant: string, camera: string, range?: PlaylistQuery) =>
    `${underGrant(grant, `vod/${e(camera)}.m3u8`)}${rangeQuery(range)}`,
  vodH264Playlist: (grant: string, camera: string, range?: PlaylistQuery) =>
    `${underGrant(grant, `vod/${e(camera)}/h264.m3u8`)}${rangeQuery(range)}`,
  livePlaylist: (grant: string, camera: string) => underGrant(grant, `live/${e(camera)}.m3u8`),
  liveH264Playlist: (grant: string, camera: string) => underGrant(grant, `live/${e(camera)}/h264.m3u8`),
  llPlaylist: (grant: string, camera: string) => underGrant(grant, `live/${e(camera)}/ll.m3u8`),
  livePartsUpload: (camera: string) => `/v1/live-parts/${e(camera)}`,
  rendition: (grant: string, camera: string, segmentName: string) =>
    underGrant(grant, grantRelativePaths.rendition(camera, segmentName)),
  health: () => '/healthz',
  metrics: () => '/metrics',
  docs: () => '/api/docs',
  docsJson: () => '/api/docs/json',
  /** The grant in a granted URL or path, or null. */
  grantOf,
  /** The same URL under another grant (a player swapping in a renewed grant). */
  withGrant,
};
