import type { PrismaClient } from '@cctv/db';
import type { Logger } from 'pino';

/** Another gateway sharing the database, as its row in `Gateway` says. */
export interface Peer {
  id: string;
  /** Base URL it serves reads at (its `GATEWAY_PEER_URL`). */
  url: string;
  /** Seconds since it last refreshed its row, by the database's clock (no skew between hosts). */
  quietS: number;
}

export interface GatewayRegistryOptions {
  prisma: PrismaClient;
  /** This gateway's `GATEWAY_ID`. */
  gatewayId: string;
  logger: Logger;
  /** How often this gateway refreshes its `seenAt`. */
  heartbeatMs?: number;
  /** How long a peer's row is reused before it is read again. */
  cacheMs?: number;
}

/** Every few seconds a gateway says it is alive; one quiet for six of them is taken for down. */
export const HEARTBEAT_MS = 5000;
export const QUIET_LIMIT_S = (6 * HEARTBEAT_MS) / 1000;

/**
 * The `Gateway` table: this gateway's row, written when it starts listening and refreshed every
 * few seconds, and its peers' rows, read when a segment waits in a peer's buffer. The only
 * source of the URLs a read is ever forwarded to.
 */
export class GatewayRegistry {
  private timer: NodeJS.Timeout | null = null;
  private beat: Promise<void> = Promise.resolve();
  private failing = false;
  private readonly peers = new Map<string, { peer: Peer | null; atMs: number }>();
  private live: { ids: string[]; atMs: number } | null = null;

  constructor(private readonly opts: GatewayRegistryOptions) {}

  /** Writes this gateway's row (its peer URL, started now) and keeps it fresh until stop(). */
  async start(url: string): Promise<void> {
    const { gatewayId, logger } = this.opts;
    const [before] = await this.rows(gatewayId);
    // Two live processes with one id would judge each other's buffered rows: say so loudly.
    if (before && before.url !== url && before.quietS < QUIET_LIMIT_S)
      logger.error(
        { gatewayId, url, otherUrl: before.url, quietS: Math.round(before.quietS) },
        'another gateway with this GATEWAY_ID was alive seconds ago: each gateway needs its own id',
      );
    await this.upsert(url, true);
    this.timer = setInterval(() => {
      this.beat = this.upsert(url, false).then(
        () => {
          if (this.failing) logger.info('gateway heartbeat written again');
          this.failing = false;
        },
        (err: unknown) => {
          if (!this.failing)
            logger.warn({ err }, 'gateway heartbeat not written; peers may take it for down');
          this.failing = true;
        },
      );
    }, this.opts.heartbeatMs ?? HEARTBEAT_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beat;
  }

  /** A peer's row (cached for a moment), or null when no gateway has that id. */
  async peer(id: string): Promise<Peer | null> {
    const now = Date.now();
    const cached = this.peers.get(id);
    if (cached && now - cached.atMs < (this.opts.cacheMs ?? 2000)) return cached.peer;
    const [row] = await this.rows(id);
    const peer = row ?? null;
    if (this.peers.size > 1000) this.peers.clear();
    this.peers.set(id, { peer, atMs: now });
    return peer;
  }

  // timestamp(3) columns hold UTC wall time, as Prisma writes them: now() is taken as UTC.
  private rows(id: string): Promise<Peer[]> {
    return this.opts.prisma.$queryRaw<Peer[]>`
      SELECT id, url, extract(epoch FROM (now() AT TIME ZONE 'UTC') - "seenAt")::float8 AS "quietS"
      FROM "Gateway" WHERE id = ${id}`;
  }

  /** This gateway's row: inserted, or its URL and `seenAt` refreshed (`startedAt` too at start). */
  /** The other gateways seen in the last `QUIET_LIMIT_S` (cached for a moment). */
  async livePeers(): Promise<string[]> {
    const now = Date.now();
    if (this.live && now - this.live.atMs < (this.opts.cacheMs ?? 2000)) return this.live.ids;
    const rows = await this.opts.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM "Gateway"
      WHERE id <> ${this.opts.gatewayId}
        AND "seenAt" > (now() AT TIME ZONE 'UTC') - ${QUIET_LIMIT_S}::int * interval '1 second'
      ORDER BY id`;
    this.live = { ids: rows.map((r) => r.id), atMs: now };
    return this.live.ids;
  }

  private async upsert(url: string, starting: boolean): Promise<void> {
    await this.opts.prisma.$executeRaw`
      INSERT INTO "Gateway" (id, url, "startedAt", "seenAt")
      VALUES (${this.opts.gatewayId}, ${url}, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
      ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, "seenAt" = EXCLUDED."seenAt",
        "startedAt" = CASE WHEN ${starting} THEN EXCLUDED."startedAt" ELSE "Gateway"."startedAt" END`;
  }
}
