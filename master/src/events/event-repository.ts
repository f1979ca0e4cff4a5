import { Prisma, type PrismaClient } from '@cctv/db';
import type { EventMessage, EventType } from '@cctv/protocol';
import type { EventRow } from './event-view.ts';

/** A validated event message and the node whose topic carried it. */
export interface IncomingEvent {
  nodeId: string;
  msg: EventMessage;
}

/**
 * Why a message was not applied: `camera_mismatch`: its camera belongs to another node;
 * `unknown_camera`: no node registered its camera (yet); `event_owned`: another node's event
 * has this id.
 */
export type EventRefusalReason = 'camera_mismatch' | 'unknown_camera' | 'event_owned';

export interface EventRefusal {
  item: IncomingEvent;
  reason: EventRefusalReason;
  /** The node that owns the camera or the event; null for an unknown camera. */
  ownerNodeId: string | null;
}

export interface BatchResult {
  /** Rows created or changed by this batch (a re-delivered or older message changes nothing). */
  stored: EventRow[];
  /** Messages refused, nothing stored for them. */
  refused: EventRefusal[];
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
  /** Events that touched any of these zones. */
  zones?: string[];
  after?: EventCursor;
  limit: number;
}

/**
 * Keeps, per node and event id, only the message with the highest seq, and splits the result
 * into rounds in which each id appears once (ON CONFLICT touches a row once per statement). Two
 * nodes sending the same id land in different rounds, so the second meets the first's row and
 * is refused instead of the two overwriting each other.
 */
export function newestPerEvent(items: IncomingEvent[]): IncomingEvent[][] {
  const byKey = new Map<string, IncomingEvent>();
  for (const it of items) {
    const key = `${it.nodeId}|${it.msg.id.toLowerCase()}`;
    const prev = byKey.get(key);
    if (!prev || it.msg.seq > prev.msg.seq) byKey.set(key, it);
  }
  const rounds: { ids: Set<string>; items: IncomingEvent[] }[] = [];
  for (const it of byKey.values()) {
    const id = it.msg.id.toLowerCase();
    let round = rounds.find((r) => !r.ids.has(id));
    if (!round) {
      round = { ids: new Set(), items: [] };
      rounds.push(round);
    }
    round.ids.add(id);
    round.items.push(it);
  }
  return rounds.map((r) => r.items);
}

/*
 * One statement per batch: the rows come in as parallel arrays through unnest. A message is
 * applied only when the sending node owns its camera and, for an existing event, the event
 * too; the others are reported back from the same statement and change nothing. A row is
 * changed only by a newer seq. start/type/camera/node are fixed by the first message stored;
 * later ones keep a snapshot, zones or end time already known when they omit it. Times arrive
 * as ISO strings with Z and are stored as UTC (the columns have no time zone).
 */
const UPSERT = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
    $7::timestamptz[], $8::float8[], $9::timestamptz[], $10::text[], $11::text[], $12::int4[], $13::text[], $14::int4[])
  AS t(id, node_id, camera_id, type, started_at, ended_at, last_at, score, best_at, boxes, zones, frames, snapshot, seq)
),
checked AS (
  SELECT i.*, c."nodeId" AS owner, old."nodeId" AS event_node,
    CASE WHEN c."nodeId" IS NULL THEN 'unknown_camera'
         WHEN c."nodeId" <> i.node_id THEN 'camera_mismatch'
         WHEN old."nodeId" IS NOT NULL AND old."nodeId" <> i.node_id THEN 'event_owned' END AS refusal
  FROM input i LEFT JOIN "Camera" c ON c.id = i.camera_id LEFT JOIN "Event" old ON old.id = i.id
),
written AS (
  INSERT INTO "Event" AS e (id, "nodeId", "cameraId", type, "startedAt", "endedAt", "lastAt", score, "bestAt",
    boxes, zones, frames, snapshot, "lastSeq", "receivedAt", "updatedAt")
  SELECT id, node_id, camera_id, type, started_at AT TIME ZONE 'UTC', ended_at AT TIME ZONE 'UTC',
    last_at AT TIME ZONE 'UTC', score, best_at AT TIME ZONE 'UTC', boxes::jsonb,
    CASE WHEN zones IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(zones::jsonb)) END,
    frames, snapshot::jsonb, seq, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
  FROM checked WHERE refusal IS NULL
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
  -- The node check again: another node's event stored since the snapshot of "checked" stays.
  WHERE e."lastSeq" < EXCLUDED."lastSeq" AND e."nodeId" = EXCLUDED."nodeId"
  RETURNING e.*
)
SELECT m.refused, w.* FROM
  (SELECT jsonb_agg(jsonb_build_array(id, refusal, CASE WHEN refusal = 'event_owned' THEN event_node ELSE owner END))
     AS refused FROM checked WHERE refusal IS NOT NULL) m
  LEFT JOIN written w ON true`;

type UpsertRow = { refused: [string, EventRefusalReason, string | null][] | null } & (
  | { id: string }
  | { id: null }
);

/** Event rows: idempotent batched writes by (id, seq), lookups and keyset search. */
export class EventRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Applies a batch of messages in one statement; see UPSERT. */
  async applyBatch(items: IncomingEvent[]): Promise<BatchResult> {
    const result: BatchResult = { stored: [], refused: [] };
    for (const round of newestPerEvent(items)) {
      const r = await this.applyRound(round);
      result.stored.push(...r.stored);
      result.refused.push(...r.refused);
    }
    return result;
  }

  private async applyRound(newest: IncomingEvent[]): Promise<BatchResult> {
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
    const reasons = new Map((rows[0]?.refused ?? []).map(([id, reason, owner]) => [id, { reason, owner }]));
    const refused = newest.flatMap((item): EventRefusal[] => {
      const r = reasons.get(item.msg.id.toLowerCase());
      return r ? [{ item, reason: r.reason, ownerNodeId: r.owner }] : [];
    });
    const stored: EventRow[] = [];
    for (const { refused: _, ...row } of rows) if (row.id !== null) stored.push(row as EventRow);
    return { stored, refused };
  }

  /** Rows by id, in the order of `ids` (those not found left out). */
  async byIds(ids: string[]): Promise<EventRow[]> {
    const rows = await this.db.event.findMany({ where: { id: { in: ids.map((id) => id.toLowerCase()) } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id.toLowerCase())).filter((r): r is EventRow => r !== undefined);
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
    if (f.zones?.length) conds.push(Prisma.sql`zones && ${f.zones}::text[]`);
    if (f.after)
      conds.push(Prisma.sql`("startedAt", id) < (${f.after.startedAt}::timestamp, ${f.after.id}::uuid)`);
    const where = conds.length ? Prisma.sql`WHERE ${Prisma.join(conds, ' AND ')}` : Prisma.empty;
    const rows = await this.db.$queryRaw<EventRow[]>`
      SELECT * FROM "Event" ${where} ORDER BY "startedAt" DESC, id DESC LIMIT ${f.limit + 1}::int`;
    const more = rows.length > f.limit;
    return { rows: more ? rows.slice(0, f.limit) : rows, more };
  }
}
