import { createHash, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '@cctv/db';
import { isValidId, SEGMENT_HEADERS } from '@cctv/protocol';
import { headerValue, type RawHeaders } from '../ingest/upload-headers.ts';
import type { CameraOwners } from './camera-owners.ts';

/** Why an upload's credentials were refused. */
export type UploadAuthFailure = { code: 'unauthorized' | 'forbidden' | 'not_owner'; message: string };

/** An upload for a camera the authenticated node does not own. */
export interface ForeignUpload {
  nodeId: string;
  cameraId: string;
  /** The camera's owner; null when no node registered it. */
  owner: string | null;
  address: string | null;
}

/** Where the token hashes come from: `NodeCredential.uploadTokenHash`, written by enrolment. */
export interface UploadTokenSource {
  tokenHash(nodeId: string): Promise<string | null>;
}

export function prismaTokenSource(prisma: PrismaClient): UploadTokenSource {
  return {
    async tokenHash(nodeId) {
      const row = await prisma.nodeCredential.findUnique({
        where: { nodeId },
        select: { uploadTokenHash: true },
      });
      return row?.uploadTokenHash ?? null;
    },
  };
}

export interface UploadAuthOptions {
  source: UploadTokenSource;
  /** How long a node's token hash is reused before it is read again (a rotation waits this long). */
  cacheMs: number;
  /** Who owns each camera: a node uploads only for its own. */
  owners: CameraOwners;
  onForeign?: (upload: ForeignUpload) => void;
  now?: () => number;
}

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/;

/**
 * Checks a node's upload token: `Authorization: Bearer <token>` whose sha256 is the node's
 * `uploadTokenHash`, for the node named in `x-cctv-node`; then that the node owns the camera.
 * One lookup per node (and camera) per cache period, so a burst of uploads costs one query,
 * and a fast hash (the token is 256 random bits).
 */
export class UploadAuth {
  private readonly cache = new Map<string, { hash: string | null; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: UploadAuthOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The authenticated node id, when it owns `cameraId`; or why not. */
  async check(
    headers: RawHeaders,
    cameraId: string,
    address: string | null = null,
  ): Promise<{ nodeId: string } | UploadAuthFailure> {
    const nodeId = headerValue(headers, SEGMENT_HEADERS.node);
    const match = BEARER.exec(headerValue(headers, 'authorization') ?? '');
    if (!match?.[1])
      return {
        code: 'unauthorized',
        message: 'uploads need the node upload token: Authorization: Bearer <token>',
      };
    if (!nodeId || !isValidId(nodeId))
      return { code: 'unauthorized', message: 'uploads must name their node in x-cctv-node' };
    const stored = await this.tokenHash(nodeId);
    const given = createHash('sha256').update(match[1], 'utf8').digest();
    if (stored?.length !== 64 || !timingSafeEqual(Buffer.from(stored, 'hex'), given))
      return { code: 'forbidden', message: `the upload token is not valid for node ${nodeId}` };
    const owned = await this.opts.owners.check(nodeId, cameraId);
    if (!owned.ok) {
      this.opts.onForeign?.({ nodeId, cameraId, owner: owned.owner, address });
      return {
        code: 'not_owner',
        message:
          owned.reason === 'unknown_camera'
            ? `camera ${cameraId} is not registered to node ${nodeId}: the master has no hello naming it`
            : `camera ${cameraId} belongs to another node`,
      };
    }
    return { nodeId };
  }

  private async tokenHash(nodeId: string): Promise<string | null> {
    const hit = this.cache.get(nodeId);
    const now = this.now();
    if (hit && now - hit.at < this.opts.cacheMs) return hit.hash;
    const hash = await this.opts.source.tokenHash(nodeId);
    // Bounded: node ids come from requests, and unknown ones are cached too.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(nodeId, { hash, at: now });
    return hash;
  }
}
