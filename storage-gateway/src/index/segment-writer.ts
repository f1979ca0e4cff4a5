import type { PgPool } from '@cctv/db';
import type { SegmentLocation } from '../files/segment-files.ts';
import type { SegmentRecord } from './segment-repository.ts';

/** What ingest needs of an indexed row to tell a new upload from an identical or conflicting one. */
export interface SegmentState {
  sha256: string;
  location: SegmentLocation;
}

interface Key {
  cameraId: string;
  name: string;
}

const keyOf = (k: Key) => `${k.cameraId}/${k.name}`;

/** SQLSTATE classes of a row's own fault (bad data, a constraint): the rest of a batch is fine. */
const rowFault = (err: unknown) => /^2[23]/.test(String((err as { code?: unknown } | null)?.code ?? ''));

/**
 * Gathers calls into one statement per batch: calls made while a batch is running wait and go
 * together in the next (group commit). An idle gateway sends each row at once; a busy one
 * sends one statement for the tens of rows that arrived meanwhile. A batch never holds the
 * same key twice, so each row's result is its own.
 */
class Batcher<T extends Key, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly max: number,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private next(): typeof this.queue {
    const keys = new Set<string>();
    let n = 0;
    while (n < this.queue.length && n < this.max) {
      const key = keyOf((this.queue[n] as (typeof this.queue)[number]).item);
      if (keys.has(key)) break;
      keys.add(key);
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.next();
      try {
        const results = await this.run(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
      } catch (err) {
        if (batch.length > 1 && rowFault(err)) {
          // One row's fault must not fail the others: each goes alone.
          for (const b of batch)
            await this.run([b.item]).then(
              ([r]) => b.resolve(r as R),
              (e: unknown) => b.reject(e),
            );
        } else for (const b of batch) b.reject(err);
      }
    }
    this.running = false;
  }
}

/** Most rows one statement carries. */
const MAX_BATCH = 256;

/**
 * The segment index's hot statements, one per upload and one per move: look a segment up,
 * insert its row, record where it is. Plain node-postgres with prepared statements, batched
 * (`Batcher`): through Prisma's query layer these cost the gateway about 1.4 ms of CPU per
 * segment, here about a tenth of it. Reads for playback stay in SegmentRepository (Prisma).
 */
export class SegmentWriter {
  private readonly lookups = new Batcher<Key, SegmentState | null>(
    (keys) => this.lookupMany(keys),
    MAX_BATCH,
  );
  private readonly inserts = new Batcher<SegmentRecord, 'inserted' | 'exists'>(
    (rows) => this.insertMany(rows),
    MAX_BATCH,
  );
  private readonly moves = new Batcher<
    Key & { location: SegmentLocation; gatewayId: string | null },
    boolean
  >((rows) => this.locateMany(rows), MAX_BATCH);

  constructor(private readonly pool: PgPool) {}

  /** The row's sha256 and location, or null when the segment is not indexed. */
  lookup(cameraId: string, name: string): Promise<SegmentState | null> {
    return this.lookups.submit({ cameraId, name });
  }

  /** Inserts a row; 'exists' when a row with the same camera and name got there first. */
  insert(record: SegmentRecord): Promise<'inserted' | 'exists'> {
    return this.inserts.submit(record);
  }

  /**
   * Records where a segment now is; false when it has no row. With `gatewayId`, also whose
   * buffer holds it now (a re-upload to another gateway takes the row over); without, the row
   * keeps the gateway that took it.
   */
  setLocation(
    cameraId: string,
    name: string,
    location: SegmentLocation,
    gatewayId: string | null = null,
  ): Promise<boolean> {
    return this.moves.submit({ cameraId, name, location, gatewayId });
  }

  private async lookupMany(keys: Key[]): Promise<(SegmentState | null)[]> {
    const res = await this.pool.query<Key & SegmentState>({
      name: 'segment-lookup',
      text: `SELECT s."cameraId", s.name, s.sha256, s.location::text AS location
               FROM "Segment" s JOIN unnest($1::text[], $2::text[]) AS k(c, n)
                 ON s."cameraId" = k.c AND s.name = k.n`,
      values: [keys.map((k) => k.cameraId), keys.map((k) => k.name)],
    });
    const found = new Map(res.rows.map((r) => [keyOf(r), { sha256: r.sha256, location: r.location }]));
    return keys.map((k) => found.get(keyOf(k)) ?? null);
  }

  private async insertMany(rows: SegmentRecord[]): Promise<('inserted' | 'exists')[]> {
    const res = await this.pool.query<Key>({
      name: 'segment-insert',
      text: `INSERT INTO "Segment"
               ("cameraId", "nodeId", name, "initName", "startAt", "durationMs", bytes, codec, sha256, location,
                "gatewayId")
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamp(3)[],
                                  $6::int[], $7::int[], $8::text[], $9::char(64)[], $10::"SegmentLocation"[],
                                  $11::text[])
             ON CONFLICT ("cameraId", name) DO NOTHING
             RETURNING "cameraId", name`,
      values: [
        rows.map((r) => r.cameraId),
        rows.map((r) => r.nodeId),
        rows.map((r) => r.name),
        rows.map((r) => r.initName),
        // timestamp(3) holds UTC wall time, as Prisma writes it: the `Z` is dropped on the cast.
        rows.map((r) => r.startAt.toISOString()),
        rows.map((r) => r.durationMs),
        rows.map((r) => r.bytes),
        rows.map((r) => r.codec),
        rows.map((r) => r.sha256),
        rows.map((r) => r.location),
        rows.map((r) => r.gatewayId ?? null),
      ],
    });
    const inserted = new Set(res.rows.map(keyOf));
    return rows.map((r) => (inserted.has(keyOf(r)) ? 'inserted' : 'exists'));
  }

  private async locateMany(
    rows: (Key & { location: SegmentLocation; gatewayId: string | null })[],
  ): Promise<boolean[]> {
    const res = await this.pool.query<Key>({
      name: 'segment-locate',
      text: `UPDATE "Segment" s SET location = k.l, "gatewayId" = coalesce(k.g, s."gatewayId")
               FROM unnest($1::text[], $2::text[], $3::"SegmentLocation"[], $4::text[]) AS k(c, n, l, g)
              WHERE s."cameraId" = k.c AND s.name = k.n
             RETURNING s."cameraId", s.name`,
      values: [
        rows.map((r) => r.cameraId),
        rows.map((r) => r.name),
        rows.map((r) => r.location),
        rows.map((r) => r.gatewayId),
      ],
    });
    const updated = new Set(res.rows.map(keyOf));
    return rows.map((r) => updated.has(keyOf(r)));
  }
}
