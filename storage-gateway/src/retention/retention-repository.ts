import { Prisma, type PrismaClient } from '@cctv/db';

/** A NAS segment retention may delete: enough to remove its file, its row and maybe its init. */
export interface RetentionCandidate {
  id: bigint;
  cameraId: string;
  name: string;
  initName: string;
  startAt: Date;
  durationMs: number;
  bytes: number;
}

/** Keyset position: candidates come in (startAt, id) order, each query after the last one seen. */
export interface RetentionCursor {
  startAt: Date;
  id: bigint;
}

/**
 * Which events keep footage: an event protects the segments overlapping
 * [startedAt − pad, (endedAt ?? lastAt) + pad] while its end is after `endedAfter`
 * (now − event retention).
 */
export interface EventProtection {
  padMs: number;
  endedAfter: Date;
}

const ms = (n: number) => Prisma.sql`${n}::int * interval '1 millisecond'`;
const segmentEnd = Prisma.sql`s."startAt" + s."durationMs" * interval '1 millisecond'`;

/**
 * The camera's protected spans as one multirange (NULL when none). The end filter is a plain
 * coalesce so that an index on ("cameraId", coalesce("endedAt", "lastAt")) would serve it;
 * `startedBefore` bounds the scan of the existing ("cameraId", "startedAt") index from above.
 */
function protectedSpans(camera: Prisma.Sql, p: EventProtection, startedBefore: Date | null): Prisma.Sql {
  const upper = startedBefore
    ? Prisma.sql`AND e."startedAt" <= ${startedBefore}::timestamp + ${ms(p.padMs)}`
    : Prisma.empty;
  // greatest(): a damaged row with lastAt before startedAt must not make tsrange() throw.
  return Prisma.sql`(
    SELECT range_agg(tsrange(
      e."startedAt" - ${ms(p.padMs)},
      greatest(coalesce(e."endedAt", e."lastAt"), e."startedAt") + ${ms(p.padMs)},
      '[]'))
    FROM "Event" e
    WHERE e."cameraId" = ${camera} AND coalesce(e."endedAt", e."lastAt") > ${p.endedAfter}::timestamp ${upper}
  )`;
}

const notProtected = Prisma.sql`NOT coalesce(p.spans && tsrange(s."startAt", ${segmentEnd}, '[)'), false)`;

function after(cursor: RetentionCursor | null): Prisma.Sql {
  if (!cursor) return Prisma.empty;
  // The plain bound lets the ("cameraId", "startAt") index start at the cursor.
  return Prisma.sql`AND s."startAt" >= ${cursor.startAt}::timestamp
    AND (s."startAt", s.id) > (${cursor.startAt}::timestamp, ${cursor.id}::bigint)`;
}

const candidateColumns = Prisma.sql`s.id, s."cameraId", s.name, s."initName", s."startAt", s."durationMs", s.bytes`;

/**
 * Retention's reads and deletes on `Segment` (and reads of the master's `Event`). Every query
 * walks the ("cameraId", "startAt") index of one camera and stops after `limit` rows, so a
 * table of millions of rows is read a batch at a time.
 */
export class RetentionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Camera ids having any segment, by a skip scan of the index (no full-table DISTINCT). */
  async cameras(): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      WITH RECURSIVE cams AS (
        (SELECT "cameraId" AS id FROM "Segment" ORDER BY "cameraId" LIMIT 1)
        UNION ALL
        SELECT (SELECT s."cameraId" FROM "Segment" s WHERE s."cameraId" > c.id ORDER BY s."cameraId" LIMIT 1)
        FROM cams c WHERE c.id IS NOT NULL
      )
      SELECT id FROM cams WHERE id IS NOT NULL`;
    return rows.map((r) => r.id);
  }

  /**
   * Retention days set per camera on the dashboard: the master's newest desired configuration of
   * each node (docs/adr/0015), read from its secret-free `cameras` column.
   */
  async configuredDays(): Promise<Map<string, number>> {
    const rows = await this.prisma.$queryRaw<{ id: string; days: number }[]>`
      SELECT c->'spec'->>'id' AS id, (c->>'retentionDays')::int AS days
      FROM (SELECT DISTINCT ON ("nodeId") cameras FROM "NodeConfigVersion" ORDER BY "nodeId", version DESC) v,
           jsonb_array_elements(v.cameras->'cameras') AS c
      WHERE c ? 'retentionDays'`;
    return new Map(rows.map((r) => [r.id, r.days]));
  }

  /** One camera's unprotected NAS segments that ended before `cutoff`, oldest first. */
  async expired(
    cameraId: string,
    cutoff: Date,
    protection: EventProtection,
    cursor: RetentionCursor | null,
    limit: number,
  ): Promise<RetentionCandidate[]> {
    return this.prisma.$queryRaw<RetentionCandidate[]>`
      SELECT ${candidateColumns}
      FROM "Segment" s CROSS JOIN ${protectedSpans(Prisma.sql`${cameraId}`, protection, cutoff)} AS p(spans)
      WHERE s."cameraId" = ${cameraId} AND s."startAt" < ${cutoff}::timestamp
        AND ${segmentEnd} < ${cutoff}::timestamp
        AND s.location = 'nas' ${after(cursor)} AND ${notProtected}
      ORDER BY s."startAt", s.id
      LIMIT ${limit}::int`;
  }

  /**
   * The oldest unprotected NAS segments across all cameras: the oldest `limit` of each camera
   * (one index range each), merged. Cost grows with cameras × limit, not with the table.
   */
  async oldest(
    protection: EventProtection,
    cursor: RetentionCursor | null,
    limit: number,
  ): Promise<RetentionCandidate[]> {
    return this.prisma.$queryRaw<RetentionCandidate[]>`
      WITH RECURSIVE cams AS (
        (SELECT "cameraId" AS id FROM "Segment" ORDER BY "cameraId" LIMIT 1)
        UNION ALL
        SELECT (SELECT s."cameraId" FROM "Segment" s WHERE s."cameraId" > c.id ORDER BY s."cameraId" LIMIT 1)
        FROM cams c WHERE c.id IS NOT NULL
      )
      SELECT x.* FROM cams c CROSS JOIN LATERAL (
        SELECT ${candidateColumns}
        FROM "Segment" s CROSS JOIN ${protectedSpans(Prisma.raw('c.id'), protection, null)} AS p(spans)
        WHERE s."cameraId" = c.id AND s.location = 'nas' ${after(cursor)} AND ${notProtected}
        ORDER BY s."startAt", s.id
        LIMIT ${limit}::int
      ) x
      WHERE c.id IS NOT NULL
      ORDER BY x."startAt", x.id
      LIMIT ${limit}::int`;
  }

  /** True while the row still exists and is on the NAS (read again under the file's lock). */
  async stillOnNas(id: bigint): Promise<boolean> {
    const rows = await this.prisma.$queryRaw<{ one: number }[]>`
      SELECT 1 AS one FROM "Segment" WHERE id = ${id}::bigint AND location = 'nas'`;
    return rows.length > 0;
  }

  /**
   * Deletes the row of a segment whose NAS file was just removed under its lock. Not only when
   * `nas`: the start-up reconciliation, which takes no lock, may have seen the file gone first
   * and marked the row `missing`. `buffer` would mean a re-upload, which the lock rules out.
   */
  async delete(id: bigint): Promise<boolean> {
    const n = await this.prisma
      .$executeRaw`DELETE FROM "Segment" WHERE id = ${id}::bigint AND location <> 'buffer'`;
    return n > 0;
  }

  /**
   * Whether any segment row of the camera (any location) still needs this init file. The
   * rows right after the deleted ones usually share it, so the index is walked forward from
   * `near` first; proving that none is left reads all of the camera's rows, as no index
   * covers `initName`.
   */
  async initReferenced(cameraId: string, initName: string, near: Date): Promise<boolean> {
    const later = await this.prisma.$queryRaw<{ one: number }[]>`
      SELECT 1 AS one FROM "Segment"
      WHERE "cameraId" = ${cameraId} AND "startAt" >= ${near}::timestamp AND "initName" = ${initName}
      ORDER BY "startAt" LIMIT 1`;
    if (later.length > 0) return true;
    const earlier = await this.prisma.$queryRaw<{ one: number }[]>`
      SELECT 1 AS one FROM "Segment"
      WHERE "cameraId" = ${cameraId} AND "startAt" < ${near}::timestamp AND "initName" = ${initName}
      LIMIT 1`;
    return earlier.length > 0;
  }
}
