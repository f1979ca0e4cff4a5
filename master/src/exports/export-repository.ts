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

  async update(id: string, data: Partial<Omit<ExportJobRow, 'id' | 'keepVisible'>>): Promise<void> {
    await this.db.exportJob.update({ where: { id }, data });
  }

  /** Jobs a previous run of the master left queued or running: they will not finish. */
  async failUnfinished(at: Date): Promise<number> {
    const r = await this.db.exportJob.updateMany({
      where: { state: { in: ['queued', 'running'] } },
      data: { state: 'failed', error: 'the master restarted before the export finished', finishedAt: at },
    });
    return r.count;
  }

  /** Done jobs whose file is past its keep time. */
  expired(now: Date): Promise<ExportJobRow[]> {
    return this.db.exportJob.findMany({ where: { state: 'done', expiresAt: { lte: now } } });
  }
}
