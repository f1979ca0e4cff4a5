import type { PrismaClient } from '@cctv/db';
import type { EventBucket, RecordingSpan } from '@cctv/protocol';
import type { EventRow } from './event-view.ts';

/** Segments closer than this (one's end to the next start) belong to one recording span. */
export const SPAN_GAP_MS = 1500;
/** Segments are 2–6 s; a segment starting this long before `from` cannot reach into the range. */
const MAX_SEGMENT_MS = 3600_000;

export interface TimelineData {
  spans: RecordingSpan[];
  /** The range's events oldest first, or null when there are more than `maxEvents`. */
  events: EventRow[] | null;
  buckets: EventBucket[] | null;
}

/**
 * Reads one camera's timeline: recording coverage from the gateway's Segment rows (merged in
 * SQL, so a month of 4 s segments never leaves the database) and the events started in the
 * range, or their counts per bucket when there are too many to draw one by one.
 */
export class TimelineReader {
  constructor(private readonly db: PrismaClient) {}

  async read(cameraId: string, from: Date, to: Date, maxEvents: number): Promise<TimelineData> {
    const [spans, rows] = await Promise.all([
      this.spans(cameraId, from, to),
      this.db.$queryRaw<EventRow[]>`
        SELECT * FROM "Event" WHERE "cameraId" = ${cameraId}
          AND "startedAt" >= ${from}::timestamp AND "startedAt" < ${to}::timestamp
        ORDER BY "startedAt", id LIMIT ${maxEvents + 1}::int`,
    ]);
    if (rows.length <= maxEvents) return { spans, events: rows, buckets: null };
    return { spans, events: null, buckets: await this.buckets(cameraId, from, to, maxEvents) };
  }

  /** Gaps-and-islands: a new span starts where a segment begins ≥ SPAN_GAP_MS after all before it end. */
  async spans(cameraId: string, from: Date, to: Date): Promise<RecordingSpan[]> {
    const lookBack = new Date(from.getTime() - MAX_SEGMENT_MS);
    const rows = await this.db.$queryRaw<{ start: Date; end: Date }[]>`
      WITH s AS (
        SELECT "startAt" AS st, "startAt" + "durationMs" * interval '1 millisecond' AS en
        FROM "Segment"
        WHERE "cameraId" = ${cameraId} AND "startAt" < ${to}::timestamp AND "startAt" >= ${lookBack}::timestamp
      ),
      p AS (
        SELECT st, en, max(en) OVER (ORDER BY st, en ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
        FROM s
      ),
      g AS (
        SELECT st, en, count(*) FILTER (
          WHERE prev_end IS NULL OR st - prev_end >= ${SPAN_GAP_MS}::int * interval '1 millisecond'
        ) OVER (ORDER BY st, en) AS grp
        FROM p
      )
      SELECT greatest(min(st), ${from}::timestamp) AS start, least(max(en), ${to}::timestamp) AS "end"
      FROM g GROUP BY grp HAVING max(en) > ${from}::timestamp ORDER BY 1`;
    return rows.map((r) => ({ start: r.start.toISOString(), end: r.end.toISOString() }));
  }

  /** Event counts per equal slice of [from, to); slices without events are left out. */
  async buckets(cameraId: string, from: Date, to: Date, n: number): Promise<EventBucket[]> {
    const width = (to.getTime() - from.getTime()) / n;
    const rows = await this.db.$queryRaw<{ b: number; motion: number; face: number; maxScore: number }[]>`
      SELECT least(floor(extract(epoch FROM ("startedAt" - ${from}::timestamp)) * 1000 / ${width}::float8), ${n - 1}::int)::int AS b,
        (count(*) FILTER (WHERE type = 'motion'))::int AS motion,
        (count(*) FILTER (WHERE type = 'face'))::int AS face,
        max(score) AS "maxScore"
      FROM "Event" WHERE "cameraId" = ${cameraId}
        AND "startedAt" >= ${from}::timestamp AND "startedAt" < ${to}::timestamp
      GROUP BY 1 ORDER BY 1`;
    const at = (i: number) => new Date(from.getTime() + Math.round(i * width)).toISOString();
    return rows.map((r) => ({
      start: at(r.b),
      end: r.b === n - 1 ? to.toISOString() : at(r.b + 1),
      motion: r.motion,
      face: r.face,
      maxScore: r.maxScore,
    }));
  }
}
