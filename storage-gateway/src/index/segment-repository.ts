import { Prisma, type PrismaClient } from '@cctv/db';
import type { SegmentLocation } from '../files/segment-files.ts';

/** One indexed media segment: the unit the timeline and VOD playlists are built from. */
export interface SegmentRecord {
  cameraId: string;
  nodeId: string;
  name: string;
  initName: string;
  startAt: Date;
  durationMs: number;
  bytes: number;
  codec: string;
  sha256: string;
  location: SegmentLocation;
}

/** Upper bound on rows one playlist may list (24 h of 1 s segments, with room to spare). */
export const MAX_RANGE_ROWS = 100_000;

const columns = {
  cameraId: true,
  nodeId: true,
  name: true,
  initName: true,
  startAt: true,
  durationMs: true,
  bytes: true,
  codec: true,
  sha256: true,
  location: true,
} as const;

/** The `Segment` table, owned by the gateway. */
export class SegmentRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async find(cameraId: string, name: string): Promise<SegmentRecord | null> {
    return this.prisma.segment.findUnique({
      where: { cameraId_name: { cameraId, name } },
      select: columns,
    });
  }

  /** Inserts a row; 'exists' when a row with the same camera and name got there first. */
  async insert(record: SegmentRecord): Promise<'inserted' | 'exists'> {
    try {
      await this.prisma.segment.create({ data: record, select: { id: true } });
      return 'inserted';
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return 'exists';
      throw err;
    }
  }

  async setLocation(cameraId: string, name: string, location: SegmentLocation): Promise<boolean> {
    const res = await this.prisma.segment.updateMany({ where: { cameraId, name }, data: { location } });
    return res.count > 0;
  }

  /** Media segments of a camera whose start lies in [from, to), in time order. */
  async listByStart(cameraId: string, from: Date, to: Date): Promise<SegmentRecord[]> {
    return this.prisma.segment.findMany({
      where: { cameraId, startAt: { gte: from, lt: to } },
      orderBy: [{ startAt: 'asc' }, { name: 'asc' }],
      take: MAX_RANGE_ROWS,
      select: columns,
    });
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }
}
