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
  /** The gateway whose buffer took it (`GATEWAY_ID`); null for rows from before gateways had ids. */
  gatewayId?: string | null;
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
  gatewayId: true,
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

  /**
   * Rows at many names of one camera moved to `location` at once; returns how many. `from`: only
   * rows still there and still this gateway's (or nobody's), so a row another gateway took over
   * meanwhile (a re-upload) is left alone.
   */
  async setLocations(
    cameraId: string,
    names: string[],
    location: SegmentLocation,
    from?: { location: SegmentLocation; gatewayId: string },
  ): Promise<number> {
    const still = from
      ? { location: from.location, OR: [{ gatewayId: from.gatewayId }, { gatewayId: null }] }
      : {};
    let count = 0;
    for (let i = 0; i < names.length; i += 1000) {
      const res = await this.prisma.segment.updateMany({
        where: { cameraId, name: { in: names.slice(i, i + 1000) }, ...still },
        data: { location },
      });
      count += res.count;
    }
    return count;
  }

  /**
   * Rows waiting in the buffer of gateway `gatewayId`, and those from before gateways had ids,
   * in recording order (the NAS backlog at start). Another gateway's buffered rows are not listed.
   */
  async listBuffered(gatewayId: string): Promise<(SegmentRecord & { createdAt: Date })[]> {
    return this.prisma.segment.findMany({
      where: { location: 'buffer', OR: [{ gatewayId }, { gatewayId: null }] },
      orderBy: [{ startAt: 'asc' }, { name: 'asc' }],
      select: { ...columns, createdAt: true },
    });
  }

  /** Names of one camera's rows at a location. */
  async namesAt(cameraId: string, location: SegmentLocation): Promise<string[]> {
    const rows = await this.prisma.segment.findMany({
      where: { cameraId, location },
      select: { name: true },
    });
    return rows.map((r) => r.name);
  }

  /** The rows of those of `names` (one camera's) that have one, any location. */
  async among(cameraId: string, names: string[]): Promise<(SegmentRecord & { createdAt: Date })[]> {
    const found: (SegmentRecord & { createdAt: Date })[] = [];
    for (let i = 0; i < names.length; i += 1000) {
      const rows = await this.prisma.segment.findMany({
        where: { cameraId, name: { in: names.slice(i, i + 1000) } },
        select: { ...columns, createdAt: true },
      });
      found.push(...rows);
    }
    return found;
  }

  /**
   * Other gateways holding segments of the init file `initName` of a camera in their buffer
   * (init files have no rows; an init is moved before its segments). Only buffered rows: a
   * recording's init is named by millions of rows once it has run for weeks.
   */
  async initHolders(cameraId: string, initName: string, except: string): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ gatewayId: string }[]>`
      SELECT DISTINCT "gatewayId" FROM "Segment"
      WHERE location = 'buffer' AND "cameraId" = ${cameraId} AND "initName" = ${initName}
        AND "gatewayId" IS NOT NULL AND "gatewayId" <> ${except}`;
    return rows.map((r) => r.gatewayId);
  }

  /** Cameras with at least one row at `location`. */
  async camerasAt(location: SegmentLocation): Promise<string[]> {
    const rows = await this.prisma.segment.findMany({
      where: { location },
      distinct: ['cameraId'],
      select: { cameraId: true },
    });
    return rows.map((r) => r.cameraId);
  }

  /** Playable media segments of a camera whose start lies in [from, to), in time order. */
  async listByStart(cameraId: string, from: Date, to: Date): Promise<SegmentRecord[]> {
    return this.prisma.segment.findMany({
      where: { cameraId, startAt: { gte: from, lt: to }, location: { not: 'missing' } },
      orderBy: [{ startAt: 'asc' }, { name: 'asc' }],
      take: MAX_RANGE_ROWS,
      select: columns,
    });
  }

  /**
   * The newest `n` playable media segments of a camera, newest first (live playlists). Served
   * by the (cameraId, startAt) index: ORDER BY startAt DESC LIMIT n.
   */
  async newestPlayable(cameraId: string, n: number): Promise<SegmentRecord[]> {
    return this.prisma.segment.findMany({
      where: { cameraId, location: { not: 'missing' } },
      orderBy: [{ startAt: 'desc' }, { name: 'desc' }],
      take: n,
      select: columns,
    });
  }

  /**
   * Rows of one camera's recording (one init) that start at or before `upTo`, any location,
   * and the first one's start: numbers segments whose names carry no counter.
   */
  async runPosition(
    cameraId: string,
    initName: string,
    upTo: Date,
  ): Promise<{ count: number; firstAt: Date }> {
    const res = await this.prisma.segment.aggregate({
      where: { cameraId, initName, startAt: { lte: upTo } },
      _count: { _all: true },
      _min: { startAt: true },
    });
    return { count: res._count._all, firstAt: res._min.startAt ?? upTo };
  }

  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }
}
