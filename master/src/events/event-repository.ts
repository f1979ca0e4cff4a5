import { Prisma, type PrismaClient } from '@cctv/db';
import type { EventMessage, EventType } from '@cctv/protocol';
import type { EventRow } from './event-view.ts';

/** A validated event message and the node whose topic carried it. */
export interface IncomingEvent {
  nodeId: string;
  msg: EventMessage;
}

export interface BatchResult {
  /** Rows created or changed by this batch (a re-delivered or older message changes nothing). */
  stored: EventRow[];
  /** Messages refused because their camera is registered to another node. */
  mismatched: { item: IncomingEvent; ownerNodeId: string }[];
}

/** Keyset position: the last row of the previous page. */
export interface EventCursor {
  startedAt: Date;
  id: string;
}

export interface EventFilter {
  cameras?: string[];
  types?: EventType[];
  from?: Date;
  to?: Date;
  minScore?: number;
  after?: EventCursor;
  limit: number;
}

/** Keeps, per event id, only the message with the highest seq (ON CONFLICT touches a row once). */
export function newestPerEvent(items: IncomingEvent[]): IncomingEvent[] {
  const byId = new Map<string, IncomingEvent>();
  for (const it of items) {
    const id = it.msg.id.toLowerCase();
    const prev = byId.get(id);
    if (!prev || it.msg.seq > prev.msg.seq) byId.set(id, it);
  }
  return [...byId.values()];
}

/*
 * One statement per batch: the rows come in as parallel arrays through unnest; a camera
 * registered to another node is filtered out (and reported back) in the same statement; a
 * row is changed only by a newer seq. start/type/camera/node are fixed by the first message
 * stored; later ones keep a snapshot, zones or end time already known when they omit it.
 * Times arrive as ISO strings with Z and are stored as UTC (the columns have no time zone).
 */
const UPSERT = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
    $7::timestamptz[], $8::float8[], $9::timestamptz[], $10::text[], $11::text[], $12::int4[], $13::text[], $14::int4[])
  AS t(id, node_id, camera_id, type, started_at, ended_at, last_at, score, best_at, boxes, zones, frames, snapshot, seq)
),
checked AS (
  SELECT i.*, c."nodeId" AS owner FROM input i LEFT JOIN "Camera" c ON c.id = i.camera_id
),
written AS (
  INSERT INTO "Event" AS e (id, "nodeId", "cameraId", type, "startedAt", "endedAt", "lastAt", score, "bestAt",
    boxes, zones, frames, snapshot, "lastSeq", "receivedAt", "updatedAt")
  SELECT id, node_id, camera_id, type, started_at AT TIME ZONE 'UTC', ended_at AT TIME ZONE 'UTC',
    last_at AT TIME ZONE 'UTC', score, best_at AT TIME ZONE 'UTC', boxes::jsonb,
    CASE WHEN zones IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(zones::jsonb)) END,
    frames, snapshot::jsonb, seq, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
  FROM checked WHERE owner IS NULL OR owner = node_id
  ON CONFLICT (id) DO UPDATE SET
    "lastAt" = EXCLUDED."lastAt",
    "endedAt" = COALESCE(EXCLUDED."endedAt", e."endedAt"),
    score = EXCLUDED.score,
    "bestAt" = EXCLUDED."bestAt",
    boxes = EXCLUDED.boxes,
    zones = COALESCE(EXCLUDED.zones, e.zones),
    frames = EXCLUDED.frames,
    snapshot = COALESCE(EXCLUDED.snapshot, e.snapshot),
    "lastSeq" = EXCLUDED."lastSeq",
    "updatedAt" = EXCLUDED."updatedAt"
  WHERE e."lastSeq" < EXCLUDED."lastSeq"
  RETURNING e.*
)
SELECT m.mismatched, w.* FROM
  (SELECT jsonb_agg(jsonb_build_array(id, owner)) AS mismatched FROM checked
    WHERE owner IS NOT NULL AND owner <> node_id) m
  LEFT JOIN written w ON true`;

type UpsertRow = { mismatched: [string, string][] | null } & ({ id: string } | { id: null });

/** Event rows: idempotent batched writes by (id, seq), lookups and keyset search. */
export class EventRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Applies a batch of messages in one statement; see UPSERT. */
  async applyBatch(items: IncomingEvent[]): Promise<BatchResult> {
    const newest = newestPerEvent(items);
    if (newest.length === 0) return { stored: [], mismatched: [] };
    const col = <T>(f: (m: EventMessage, nodeId: string) => T) => newest.map((it) => f(it.msg, it.nodeId));
    const rows = await this.db.$queryRawUnsafe<(UpsertRow & EventRow)[]>(
      UPSERT,
      col((m) => m.id.toLowerCase()),
      col((_, nodeId) => nodeId),
      col((m) => m.cameraId),
      col((m) => m.type),
      col((m) => m.startedAt),
      col((m) => m.endedAt ?? null),
      col((m) => m.at),
      col((m) => m.score),
      col((m) => m.bestAt),
      col((m) => JSON.stringify(m.boxes)),
      col((m) => (m.zones ? JSON.stringify(m.zones) : null)),
      col((m) => m.frames),
      col((m) => (m.snapshot ? JSON.stringify(m.snapshot) : null)),
      col((m) => m.seq),
    );
    const owners = new Map((rows[0]?.mismatched ?? []).map(([id, owner]) => [id, owner]));
    const mismatched = newest.flatMap((item) => {
      const owner = owners.get(item.msg.id.toLowerCase());
      return owner ? [{ item, ownerNodeId: owner }] : [];
    });
    const stored: EventRow[] = [];
    for (const { mismatched: _, ...row } of rows) if (row.id !== null) stored.push(row as EventRow);
    return { stored, mismatched };
  }

  async get(id: string): Promise<EventRow | null> {
    return this.db.event.findUnique({ where: { id: id.toLowerCase() } });
  }

  /** Newest first by (startedAt, id); `limit + 1` rows are read to know whether a page follows. */
  async search(f: EventFilter): Promise<{ rows: EventRow[]; more: boolean }> {
    const conds: Prisma.Sql[] = [];
    // One camera (the timeline's and the dashboard's usual case) as a plain equality, so the
    // planner walks the (cameraId, startedAt, id) index in order.
    if (f.cameras?.length === 1) conds.push(Prisma.sql`"cameraId" = ${f.cameras[0]}`);
    else if (f.cameras?.length) conds.push(Prisma.sql`"cameraId" = ANY(${f.cameras}::text[])`);
    if (f.types?.length) conds.push(Prisma.sql`type = ANY(${f.types}::text[])`);
    if (f.from) conds.push(Prisma.sql`"startedAt" >= ${f.from}::timestamp`);
    if (f.to) conds.push(Prisma.sql`"startedAt" < ${f.to}::timestamp`);
    if (f.minScore !== undefined) conds.push(Prisma.sql`score >= ${f.minScore}::float8`);
    if (f.after)
      conds.push(Prisma.sql`("startedAt", id) < (${f.after.startedAt}::timestamp, ${f.after.id}::uuid)`);
    const where = conds.length ? Prisma.sql`WHERE ${Prisma.join(conds, ' AND ')}` : Prisma.empty;
    const rows = await this.db.$queryRaw<EventRow[]>`
      SELECT * FROM "Event" ${where} ORDER BY "startedAt" DESC, id DESC LIMIT ${f.limit + 1}::int`;
    const more = rows.length > f.limit;
    return { rows: more ? rows.slice(0, f.limit) : rows, more };
  }
}
