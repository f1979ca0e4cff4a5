/**
 * Writes `SecurityAlert` rows for the master and the storage gateway. An attacker repeating a
 * refused action must not turn each attempt into a database write: repeats of one kind, node,
 * camera and source are counted in memory and written at most once per `flushMs`, onto the same
 * row while it is younger than `coalesceMs` and not acknowledged. Writing never throws into the
 * caller: a failure is reported through `onError` and the counts are kept for the next flush.
 */
import type { PrismaClient } from './client.ts';

export interface SecurityAlertInput {
  kind: string;
  /** `master` or `gateway`. */
  source: string;
  nodeId?: string | null;
  cameraId?: string | null;
  address?: string | null;
  message: string;
  detail?: Record<string, unknown>;
}

export interface SecurityAlertRecorderOptions {
  flushMs?: number;
  coalesceMs?: number;
  onError?: (err: unknown) => void;
  /** Called with the row ids written by a flush. */
  onWritten?: (ids: bigint[]) => void;
}

interface Pending {
  alert: SecurityAlertInput;
  count: number;
}

/** Pending keys kept at most: a flood of distinct keys is cut rather than held in memory. */
const MAX_PENDING = 1000;

export class SecurityAlertRecorder {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly flushMs: number;
  private readonly coalesceMs: number;

  constructor(
    private readonly db: PrismaClient,
    private readonly opts: SecurityAlertRecorderOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 1000;
    this.coalesceMs = opts.coalesceMs ?? 10 * 60_000;
  }

  raise(alert: SecurityAlertInput): void {
    const key = [alert.kind, alert.source, alert.nodeId ?? '', alert.cameraId ?? ''].join('\u0000');
    const known = this.pending.get(key);
    if (known) {
      known.count++;
      known.alert = { ...alert, address: alert.address ?? known.alert.address ?? null };
    } else if (this.pending.size < MAX_PENDING) this.pending.set(key, { alert, count: 1 });
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
    this.timer.unref?.();
  }

  /** Writes what is pending now; resolves when written (or failed and kept). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.write(batch).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  async stop(): Promise<void> {
    await this.flush();
  }

  private async write(batch: Pending[]): Promise<void> {
    const ids: bigint[] = [];
    for (const { alert, count } of batch) {
      try {
        ids.push(await this.writeOne(alert, count));
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
    if (ids.length > 0) this.opts.onWritten?.(ids);
  }

  private async writeOne(a: SecurityAlertInput, count: number): Promise<bigint> {
    const since = new Date(Date.now() - this.coalesceMs);
    const rows = await this.db.$queryRawUnsafe<{ id: bigint }[]>(
      `UPDATE "SecurityAlert" SET count = count + $1, "lastAt" = now() AT TIME ZONE 'UTC', message = $2,
              address = COALESCE($3, address)
        WHERE id = (SELECT id FROM "SecurityAlert"
                     WHERE kind = $4 AND source = $5 AND "nodeId" IS NOT DISTINCT FROM $6
                       AND "cameraId" IS NOT DISTINCT FROM $7 AND "acknowledgedAt" IS NULL
                       AND "lastAt" > $8
                     ORDER BY "lastAt" DESC LIMIT 1)
        RETURNING id`,
      count,
      a.message.slice(0, 500),
      a.address ?? null,
      a.kind,
      a.source,
      a.nodeId ?? null,
      a.cameraId ?? null,
      since,
    );
    if (rows[0]) return rows[0].id;
    const row = await this.db.securityAlert.create({
      data: {
        kind: a.kind,
        source: a.source,
        nodeId: a.nodeId ?? null,
        cameraId: a.cameraId ?? null,
        address: a.address ?? null,
        message: a.message.slice(0, 500),
        count,
        ...(a.detail ? { detail: a.detail as object } : {}),
      },
      select: { id: true },
    });
    return row.id;
  }
}
