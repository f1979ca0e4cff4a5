/**
 * Footage reads under a grant: every read route lives below `/v1/g/<grant>/`, where a hook
 * verifies the grant before the handler runs (no file opened, no transcode slot taken before
 * it); each handler then checks that the grant covers what it serves (camera, scope, time). The
 * old paths without a grant answer 401.
 */
import type { GrantClaims, GrantScope } from '@cctv/protocol';
import { GRANT_PREFIX, gatewayRoutes } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GrantError, type GrantRefusal, type GrantVerifier } from '../auth/grant-verifier.ts';
import type { SegmentRepository } from '../index/segment-repository.ts';
import { sendGatewayError } from './http-error.ts';
import { fromContract } from './route-contract.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified grant of a footage read. */
    grant: GrantClaims | null;
  }
}

export { GRANT_PREFIX };

/** The grant of a read route; the hook has refused the request otherwise. */
export function grantOf(request: FastifyRequest): GrantClaims {
  if (!request.grant) throw new Error(`route ${request.url} is not under a grant`);
  return request.grant;
}

/** Refuses unless the grant is for `camera` with one of `scopes`. */
export function requireGrant(
  request: FastifyRequest,
  camera: string,
  scopes: readonly GrantScope[],
): GrantClaims {
  const grant = grantOf(request);
  if (grant.cam !== camera) throw new GrantError('wrong_camera', `the grant is not for camera ${camera}`);
  if (!scopes.includes(grant.scp))
    throw new GrantError(
      'wrong_scope',
      `a ${grant.scp} grant does not open this (needs ${scopes.join(' or ')})`,
    );
  return grant;
}

/** Refuses unless `atMs` (a segment's or event's start) lies in the grant's range. */
export function requireInRange(grant: GrantClaims, atMs: number, what: string): void {
  const [from, to] = grant.rng;
  if (atMs < from || atMs >= to)
    throw new GrantError('outside_grant', `${what} lies outside the granted range`);
}

/**
 * The start of each media segment, as the index has it: segment reads are checked against the
 * grant's range. Playlists prime it with the rows they list, so the segment requests that follow
 * cost no query; a segment's start never changes (a name is never reused), so entries stay true.
 */
export class SegmentTimes {
  private readonly starts = new Map<string, number>();

  constructor(
    private readonly index: Pick<SegmentRepository, 'find'>,
    private readonly max = 200_000,
  ) {}

  remember(camera: string, rows: readonly { name: string; startAt: Date }[]): void {
    if (this.starts.size + rows.length > this.max) this.starts.clear();
    for (const r of rows) this.starts.set(`${camera}/${r.name}`, r.startAt.getTime());
  }

  /** The segment's start in ms, or null when it is not indexed. */
  async startMs(camera: string, name: string): Promise<number | null> {
    const key = `${camera}/${name}`;
    const known = this.starts.get(key);
    if (known !== undefined) return known;
    const row = await this.index.find(camera, name);
    if (!row) return null;
    if (this.starts.size >= this.max) this.starts.clear();
    this.starts.set(key, row.startAt.getTime());
    return row.startAt.getTime();
  }
}

export interface GrantHookOptions {
  verifier: Pick<GrantVerifier, 'verify'>;
  onRefused: (reason: GrantRefusal) => void;
  onGranted?: () => void;
}

/** Verifies the grant of every request of the plugin it is installed in. */
export function installGrantHook(app: FastifyInstance, opts: GrantHookOptions): void {
  app.decorateRequest('grant', null);
  app.addHook('onRequest', async (request, reply) => {
    const token = (request.params as { grant?: string }).grant ?? '';
    try {
      request.grant = await opts.verifier.verify(token);
    } catch (err) {
      if (!(err instanceof GrantError)) throw err;
      return refuseGrant(reply, err, opts.onRefused);
    }
  });
  // Counted once served: a valid grant refused for what it asked (camera, scope, time) is not.
  app.addHook('onResponse', async (_request, reply) => {
    if (reply.statusCode < 400) opts.onGranted?.();
  });
  // A handler's own refusal (another camera, scope or time) is counted the same way.
  app.setErrorHandler((err: Error, _request, reply) => {
    if (err instanceof GrantError) return refuseGrant(reply, err, opts.onRefused);
    throw err;
  });
}

export function refuseGrant(
  reply: FastifyReply,
  err: GrantError,
  onRefused: (reason: GrantRefusal) => void,
): FastifyReply {
  onRefused(err.code);
  return sendGatewayError(reply, err, 'cctv-footage');
}

/** `private`: only the browser that holds the grant may keep the answer, for the grant's life. */
export function privateCache(grant: GrantClaims, nowMs: number, maxS = 3600): string {
  const left = Math.max(0, Math.min(maxS, Math.floor(grant.exp - nowMs / 1000)));
  return `private, max-age=${left}`;
}

/** The read paths as they were before grants: each answers 401 with the way to get one. */
export function installGrantRequired(app: FastifyInstance, onRefused: (reason: GrantRefusal) => void): void {
  const {
    vodWithoutGrant,
    liveWithoutGrant,
    segmentsWithoutGrant,
    renditionsWithoutGrant,
    snapshotsWithoutGrant,
  } = gatewayRoutes;
  for (const route of [
    vodWithoutGrant,
    liveWithoutGrant,
    segmentsWithoutGrant,
    renditionsWithoutGrant,
    snapshotsWithoutGrant,
  ])
    app.route({
      ...fromContract(route),
      handler: async (_request, reply) =>
        refuseGrant(
          reply,
          new GrantError(
            'grant_required',
            'footage is read under a grant: ask the master (POST /api/cameras/<id>/playback or /live) for a URL',
          ),
          onRefused,
        ),
    });
}
