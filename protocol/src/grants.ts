/**
 * Footage grants: the master signs, the storage gateway verifies. A grant lets one user read one
 * camera's footage of one time range, for a few minutes. It is a JWT (EdDSA, Ed25519) whose key
 * id names a `GrantKey` row; it travels as the first path levels of every footage URL
 * (`/v1/g/<grant>/vod/<camera>.m3u8`), so the relative URIs of a playlist resolve under it and a
 * granted URL plays unchanged in hls.js, ffmpeg or VLC, with no header or cookie.
 */
import { type Static, Type } from '@sinclair/typebox';
import { gatewayPaths, grantOf, withGrant } from './http/gateway-paths.ts';
import { CameraId } from './ids.ts';
import { GRANT_MAX_LENGTH } from './patterns.ts';

export { GRANT_MAX_LENGTH, grantOf, withGrant };

export const GRANT_ISSUER = 'cctv-master';
export const GRANT_AUDIENCE = 'cctv-gateway';
export const GRANT_ALGORITHM = 'EdDSA';

/**
 * `vod`: playlists, segments and renditions of recordings that start in the range;
 * `live`: the same for the live playlists, the range running from shortly before the grant was
 * issued to its expiry; `snapshot`: event snapshots of events that started in the range.
 */
export const GRANT_SCOPES = ['vod', 'live', 'snapshot'] as const;
export type GrantScope = (typeof GRANT_SCOPES)[number];

/** The claims of a grant beyond the registered ones (`sub` is the user, `exp` the expiry). */
export const GrantClaims = Type.Object({
  iss: Type.Literal(GRANT_ISSUER),
  aud: Type.Literal(GRANT_AUDIENCE),
  /** The user the grant was issued to. */
  sub: Type.String({ minLength: 1, maxLength: 64 }),
  iat: Type.Integer({ minimum: 0 }),
  exp: Type.Integer({ minimum: 0 }),
  cam: CameraId,
  scp: Type.Union(GRANT_SCOPES.map((s) => Type.Literal(s))),
  /** The range, in ms since the epoch: [from, to). */
  rng: Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]),
});
export type GrantClaims = Static<typeof GrantClaims>;

/** Grants are JWS compact strings: base64url parts joined by dots, safe in one path level. */
const GRANT_RE = /^[A-Za-z0-9_-]{10,200}\.[A-Za-z0-9_-]{10,1200}\.[A-Za-z0-9_-]{80,100}$/;

export function isGrantShaped(value: string): boolean {
  return value.length <= GRANT_MAX_LENGTH && GRANT_RE.test(value);
}

/** Where granted reads live: `/v1/<rest>` becomes `/v1/g/<grant>/<rest>`. */
export function grantedPath(grant: string, path: string): string {
  if (!path.startsWith('/v1/')) throw new Error(`not a gateway path: ${path}`);
  return `/v1/g/${grant}/${path.slice(4)}`;
}

/** The granted paths of a camera's footage, relative to the gateway's base URL (`gatewayPaths`). */
export const grantedPaths = {
  vod: (grant: string, camera: string) => gatewayPaths.vodPlaylist(grant, camera),
  vodH264: (grant: string, camera: string) => gatewayPaths.vodH264Playlist(grant, camera),
  live: gatewayPaths.livePlaylist,
  liveH264: gatewayPaths.liveH264Playlist,
  liveLowLatency: gatewayPaths.llPlaylist,
  segment: gatewayPaths.segment,
  snapshot: gatewayPaths.snapshot,
};
