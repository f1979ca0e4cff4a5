/**
 * Which node owns a camera, as the master registered it (`Camera.nodeId`): an upload of a
 * segment, init file or snapshot is taken only from the camera's owner. Looked up once per
 * camera per cache period, so a burst of uploads costs one query; an unknown camera is looked
 * up again sooner, since its node's hello may be on its way.
 */
import type { PrismaClient } from '@cctv/db';

export interface CameraOwnerSource {
  owner(cameraId: string): Promise<string | null>;
}

export function prismaCameraOwners(prisma: PrismaClient): CameraOwnerSource {
  return {
    async owner(cameraId) {
      const row = await prisma.camera.findUnique({ where: { id: cameraId }, select: { nodeId: true } });
      return row?.nodeId ?? null;
    },
  };
}

export interface CameraOwnersOptions {
  source: CameraOwnerSource;
  /** How long a known owner is reused (an admin's move takes effect within it). */
  cacheMs: number;
  /** How long "no such camera" is reused. */
  unknownCacheMs?: number;
  now?: () => number;
}

/** `owned`, or why not: the camera is another node's, or no node registered it. */
export type OwnerCheck =
  | { ok: true }
  | { ok: false; reason: 'not_owner' | 'unknown_camera'; owner: string | null };

export class CameraOwners {
  private readonly cache = new Map<string, { owner: string | null; at: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: CameraOwnersOptions) {
    this.now = opts.now ?? Date.now;
  }

  async check(nodeId: string, cameraId: string): Promise<OwnerCheck> {
    const owner = await this.owner(cameraId);
    if (owner === nodeId) return { ok: true };
    return { ok: false, reason: owner === null ? 'unknown_camera' : 'not_owner', owner };
  }

  private async owner(cameraId: string): Promise<string | null> {
    const t = this.now();
    const hit = this.cache.get(cameraId);
    const ttl = hit?.owner === null ? (this.opts.unknownCacheMs ?? 1000) : this.opts.cacheMs;
    if (hit && t - hit.at < ttl) return hit.owner;
    const owner = await this.opts.source.owner(cameraId);
    // Bounded: camera ids come from requests, and unknown ones are cached too.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(cameraId, { owner, at: t });
    return owner;
  }
}

/**
 * When uploads for a camera no node registered become an alarm: a new node's first uploads may
 * race its own hello (or wait out a master that is down), so they are only refused and counted
 * at first; a node still uploading for an unregistered camera after `graceMs` is worth an
 * admin's look.
 */
export class UnregisteredCameraGrace {
  private readonly since = new Map<string, number>();

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a refusal; true once this node's refusals for this camera outlast the grace. */
  overdue(nodeId: string, cameraId: string): boolean {
    const key = `${nodeId}/${cameraId}`;
    const t = this.now();
    const first = this.since.get(key);
    if (first === undefined) {
      // Bounded: node and camera ids come from requests.
      if (this.since.size >= 10_000) this.since.clear();
      this.since.set(key, t);
      return this.graceMs === 0;
    }
    return t - first >= this.graceMs;
  }

  /** How long the node has been refused for the camera, in ms (0 when not at all). */
  refusedForMs(nodeId: string, cameraId: string): number {
    const first = this.since.get(`${nodeId}/${cameraId}`);
    return first === undefined ? 0 : this.now() - first;
  }
}
