/** `ExportJob` rows: one per requested MP4, with its state and progress. */
import type { PrismaClient } from '@cctv/db';
import { type ExportJobView, masterPaths, type Polygon } from '@cctv/protocol';

export interface ExportJobRow {
  id: string;
  userId: string;
  username: string;
  cameraId: string;
  from: Date;
  to: Date;
  blurFaces: boolean;
  blurMotion: boolean;
  /** Polygons outside which frames are blurred (validated by ExportRequest when asked); null: none. */
  keepVisible: unknown;
  state: string;
  progress: number;
  bytes: bigint | null;
  error: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  expiresAt: Date | null;
  claimedBy: string | null;
  leaseUntil: Date | null;
  attempts: number;
}

/** What a request sets of a new job; the rest starts at its defaults. */
export type NewExportJob = Pick<
  ExportJobRow,
  'userId' | 'username' | 'cameraId' | 'from' | 'to' | 'blurFaces' | 'blurMotion'
> & { keepVisible?: Polygon[] };

/** The job's polygons, or null when it keeps the whole frame. */
export function keepVisibleOf(r: Pick<ExportJobRow, 'keepVisible'>): Polygon[] | null {
  return Array.isArray(r.keepVisible) && r.keepVisible.length > 0 ? (r.keepVisible as Polygon[]) : null;
}

export function toExportView(r: ExportJobRow): ExportJobView {
  return {
    id: r.id,
    cameraId: r.cameraId,
    from: r.from.toISOString(),
    to: r.to.toISOString(),
    username: r.username,
    state: r.state as ExportJobView['state'],
    blurFaces: r.blurFaces,
    blurMotion: r.blurMotion,
    keepVisible: keepVisibleOf(r),
    progress: r.progress,
    bytes: r.bytes === null ? null : Number(r.bytes),
    error: r.error,
    createdAt: r.createdAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
    expiresAt: r.expiresAt?.toISOString() ?? null,
    downloadUrl: r.state === 'done' ? masterPaths.exportFile({ id: r.id }) : null,
  };
}

export class ExportRepository {
  constructor(private readonly db: PrismaClient) {}

  create(job: NewExportJob) {
    return this.db.exportJob.create({ data: job });
  }

  get(id: string): Promise<ExportJobRow | null> {
    return this.db.exportJob.findUnique({ where: { id } });
  }

  /** Newest first; a user's own jobs, or everyone's for `userId` null. */
  list(userId: string | null, limit = 100): Promise<ExportJobRow[]> {
    return this.db.exportJob.findMany({
      where: userId ? { userId } : {},
      orderBy: { createdAt: 'desc' },
      take: limit,
    });
  }

  /**
   * Claims the oldest job no master works: queued, or running under a lease that lapsed (its
   * master died). Several masters claim at once without waiting on each other (SKIP LOCKED); a
   * job is claimed by one. A lapsed job already started `maxAttempts` times is failed instead.
   */
  async claim(instanceId: string, leaseMs: number, maxAttempts: number): Promise<ExportJobRow | null> {
    await this.db.$executeRaw`
      UPDATE "ExportJob" SET state = 'failed', "finishedAt" = now(), "claimedBy" = NULL,
        error = 'the export was started ' || attempts || ' times and its master stopped each time'
      WHERE state = 'running' AND ("leaseUntil" IS NULL OR "leaseUntil" < now()) AND attempts >= ${maxAttempts}`;
    const rows = await this.db.$queryRaw<ExportJobRow[]>`
      UPDATE "ExportJob" SET state = 'running', "claimedBy" = ${instanceId},
        "leaseUntil" = now() + make_interval(secs => ${leaseMs / 1000}::float8), attempts = attempts + 1,
        progress = 0
      WHERE id = (
        SELECT id FROM "ExportJob"
        WHERE state = 'queued' OR (state = 'running' AND ("leaseUntil" IS NULL OR "leaseUntil" < now()))
        ORDER BY "createdAt" LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`;
    return rows[0] ?? null;
  }

  /** Extends this master's claim; false when the job is no longer its own (taken over, deleted). */
  async renew(id: string, instanceId: string, leaseMs: number): Promise<boolean> {
    const n = await this.db.$executeRaw`
      UPDATE "ExportJob" SET "leaseUntil" = now() + make_interval(secs => ${leaseMs / 1000}::float8)
      WHERE id = ${id} AND "claimedBy" = ${instanceId} AND state = 'running'`;
    return n === 1;
  }

  /** Jobs this master (same instance id) was working when it stopped: claimable again at once. */
  async releaseClaims(instanceId: string): Promise<number> {
    const r = await this.db.exportJob.updateMany({
      where: { claimedBy: instanceId, state: 'running' },
      data: { leaseUntil: new Date(0) },
    });
    return r.count;
  }

  /** Updates a job this master holds; false when it is no longer its own. */
  async updateClaimed(
    id: string,
    instanceId: string,
    data: Partial<Omit<ExportJobRow, 'id' | 'keepVisible'>>,
  ): Promise<boolean> {
    const r = await this.db.exportJob.updateMany({
      where: { id, claimedBy: instanceId, state: 'running' },
      data,
    });
    return r.count === 1;
  }

  /** Done jobs whose file is past its keep time. */
  expired(now: Date): Promise<ExportJobRow[]> {
    return this.db.exportJob.findMany({ where: { state: 'done', expiresAt: { lte: now } } });
  }

  /** Marks a done job expired; false when another master did it first. */
  async expire(id: string): Promise<boolean> {
    const r = await this.db.exportJob.updateMany({
      where: { id, state: 'done' },
      data: { state: 'expired' },
    });
    return r.count === 1;
  }
}
