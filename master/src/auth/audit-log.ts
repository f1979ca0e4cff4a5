/**
 * The audit log: who did what, to which camera or node, from where, and when. Rows are only
 * ever inserted (the table refuses UPDATE, DELETE and TRUNCATE). Writing an entry is part of
 * the action it records: a route that cannot write its entry fails rather than act unrecorded.
 */
import type { Prisma, PrismaClient } from '@cctv/db';
import type { AuditAction, AuditEntryView } from '@cctv/protocol';

export interface AuditRecord {
  action: AuditAction;
  /** The acting user; null for a failed login of an unknown username. */
  userId: string | null;
  username: string;
  cameraId?: string | null;
  nodeId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditFilter {
  action?: AuditAction;
  username?: string;
  cameraId?: string;
  nodeId?: string;
  from?: Date;
  to?: Date;
  /** Entries with an id below this one (the previous page's last id). */
  beforeId?: bigint;
  limit: number;
}

export class AuditLog {
  constructor(
    private readonly db: PrismaClient,
    private readonly onRecorded: (action: AuditAction) => void = () => {},
  ) {}

  async record(r: AuditRecord): Promise<void> {
    await this.db.auditEntry.create({
      data: {
        action: r.action,
        userId: r.userId,
        username: r.username.slice(0, 64),
        cameraId: r.cameraId ?? null,
        nodeId: r.nodeId ?? null,
        ip: r.ip ?? null,
        ...(r.detail ? { detail: r.detail as Prisma.InputJsonObject } : {}),
      },
    });
    this.onRecorded(r.action);
  }

  /** Newest first; ids grow with time, so the id alone is a stable cursor. */
  async search(f: AuditFilter): Promise<{ entries: AuditEntryView[]; more: boolean }> {
    const rows = await this.db.auditEntry.findMany({
      where: {
        ...(f.action ? { action: f.action } : {}),
        ...(f.username ? { username: f.username } : {}),
        ...(f.cameraId ? { cameraId: f.cameraId } : {}),
        ...(f.nodeId ? { nodeId: f.nodeId } : {}),
        ...(f.from || f.to
          ? { at: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } }
          : {}),
        ...(f.beforeId !== undefined ? { id: { lt: f.beforeId } } : {}),
      },
      orderBy: { id: 'desc' },
      take: f.limit + 1,
    });
    const more = rows.length > f.limit;
    return {
      more,
      entries: rows.slice(0, f.limit).map((r) => ({
        id: r.id.toString(),
        at: r.at.toISOString(),
        userId: r.userId,
        username: r.username,
        action: r.action as AuditAction,
        cameraId: r.cameraId,
        nodeId: r.nodeId,
        ip: r.ip,
        detail: r.detail,
      })),
    };
  }

  /** Every entry matching `f` (its cursor and limit aside), newest first, read a page at a time. */
  async *all(f: Omit<AuditFilter, 'beforeId' | 'limit'>, pageSize = 500): AsyncGenerator<AuditEntryView> {
    let beforeId: bigint | undefined;
    for (;;) {
      const page = await this.search({
        ...f,
        ...(beforeId !== undefined ? { beforeId } : {}),
        limit: pageSize,
      });
      yield* page.entries;
      const last = page.entries.at(-1);
      if (!page.more || !last) return;
      beforeId = BigInt(last.id);
    }
  }
}
