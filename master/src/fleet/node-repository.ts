/**
 * The Node and Camera rows: the state machine's writes (status, hello, heartbeats, stale and
 * offline marks, camera moves) and the fleet views read from them (the stored heartbeat checked
 * again on read: stored-heartbeat.ts). Over 300 lines, it stays one file: the writes and the
 * reads share the rows' shape and its mapping to views (toView).
 */
import type { Camera, Node, PrismaClient } from '@cctv/db';
import type {
  CameraView,
  HeartbeatMessage,
  HelloMessage,
  NodeStateChangeView,
  NodeView,
} from '@cctv/protocol';
import { configStatus, configStatusSql } from '../config/config-status.ts';
import { checkedHeartbeat, HEARTBEAT_SQL, type InvalidHeartbeatReport } from './stored-heartbeat.ts';

export type { InvalidHeartbeatReport } from './stored-heartbeat.ts';

type NodeWithCameras = Node & { cameras: Camera[] };

/** A camera a hello named that another node owns. */
export interface CameraClaimRefusal {
  cameraId: string;
  ownerNodeId: string;
}

function toView(
  n: NodeWithCameras,
  report: InvalidHeartbeatReport,
  desired: ReadonlyMap<string, number>,
): NodeView {
  const heartbeat = checkedHeartbeat(n, report);
  return {
    id: n.id,
    state: n.state,
    agentVersion: n.agentVersion,
    hostname: n.hostname,
    platform: n.platform,
    arch: n.arch,
    lastSeenAt: n.lastSeenAt?.toISOString() ?? null,
    lastHeartbeatAt: n.lastHeartbeatAt?.toISOString() ?? null,
    stateChangedAt: n.stateChangedAt.toISOString(),
    heartbeat,
    config: configStatus(heartbeat?.config, desired.get(n.id) ?? null),
    // Code-point order, as `listJson` sorts in SQL (COLLATE "C").
    cameras: n.cameras
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(
        (c): CameraView => ({
          id: c.id,
          nodeId: c.nodeId,
          name: c.name,
          codec: c.codec,
          width: c.width,
          height: c.height,
          fps: c.fps,
          simulated: c.simulated,
          state: c.state,
          online: n.state === 'online',
        }),
      ),
  };
}

/** What the API reads about the fleet (a repository on the read pool). */
export type FleetReads = Pick<NodeRepository, 'list' | 'listJson' | 'get' | 'history' | 'camera'>;

const isoSql = (col: string) => `to_char(${col}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Node and Camera rows. The registry is the only writer. */
export class NodeRepository {
  /** Stored heartbeats that fail the schema on read; told to `onInvalidHeartbeat`, and counted. */
  invalidHeartbeats = 0;
  private readonly reportHeartbeat: InvalidHeartbeatReport;

  constructor(
    private readonly db: PrismaClient,
    onInvalidHeartbeat?: InvalidHeartbeatReport,
  ) {
    this.reportHeartbeat = (nodeId, error) => {
      this.invalidHeartbeats++;
      onInvalidHeartbeat?.(nodeId, error);
    };
  }

  /** Every node offline: used when the embedded broker starts with no sessions or retained state. */
  async markAllOffline(at: Date): Promise<number> {
    const online = await this.db.node.findMany({
      where: { state: { in: ['online', 'stale'] } },
      select: { id: true },
    });
    if (online.length === 0) return 0;
    const ids = online.map((n) => n.id);
    await this.db.$transaction([
      this.db.node.updateMany({ where: { id: { in: ids } }, data: { state: 'offline', stateChangedAt: at } }),
      this.db.nodeStateChange.createMany({
        data: ids.map((nodeId) => ({ nodeId, state: 'offline', reason: 'master-start', at })),
      }),
    ]);
    return ids.length;
  }

  /** The node's state changes, newest first. */
  async history(nodeId: string, limit: number): Promise<NodeStateChangeView[]> {
    const rows = await this.db.nodeStateChange.findMany({
      where: { nodeId },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map((r) => ({ state: r.state, reason: r.reason, at: r.at.toISOString() }));
  }

  /** Applies a status message; returns whether the state changed. */
  async applyStatus(
    nodeId: string,
    state: 'online' | 'offline',
    agentVersion: string,
    at: Date,
  ): Promise<boolean> {
    const prev = await this.db.node.findUnique({ where: { id: nodeId }, select: { state: true } });
    const changed = prev?.state !== state;
    const upsert = this.db.node.upsert({
      where: { id: nodeId },
      create: { id: nodeId, state, agentVersion, lastSeenAt: at, stateChangedAt: at },
      update: {
        state,
        agentVersion,
        lastSeenAt: at,
        ...(changed ? { stateChangedAt: at } : {}),
      },
    });
    if (changed)
      await this.db.$transaction([
        upsert,
        this.db.nodeStateChange.create({ data: { nodeId, state, reason: 'status', at } }),
      ]);
    else await upsert;
    return changed;
  }

  /**
   * Online nodes whose last heartbeat and last state change are both older than `cutoff`
   * become stale (a node that just came back gets the stale age to send its first heartbeat);
   * returns their ids.
   */
  async markStale(cutoff: Date, at: Date): Promise<string[]> {
    return this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
        `UPDATE "Node" SET state = 'stale', "stateChangedAt" = $2
          WHERE state = 'online' AND GREATEST("lastHeartbeatAt", "stateChangedAt") < $1
          RETURNING id`,
        cutoff,
        at,
      );
      if (rows.length > 0)
        await tx.nodeStateChange.createMany({
          data: rows.map((r) => ({ nodeId: r.id, state: 'stale', reason: 'heartbeat-age', at })),
        });
      return rows.map((r) => r.id);
    });
  }

  /**
   * Applies a hello: the node's own row, its cameras. A camera belongs to the node that first
   * registered it: one named by this hello but owned by another node is left untouched and
   * returned as refused. Cameras of this node the hello no longer names are removed (which
   * releases them).
   */
  async applyHello(hello: HelloMessage, at: Date): Promise<{ refused: CameraClaimRefusal[] }> {
    const nodeId = hello.nodeId;
    const ids = hello.cameras.map((c) => c.id);
    const info = {
      agentVersion: hello.agentVersion,
      protocolVersion: String(hello.protocolVersion),
      hostname: hello.host.hostname,
      platform: hello.host.platform,
      arch: hello.host.arch,
      capabilities: hello.capabilities,
      lastSeenAt: at,
    };
    const col = <T>(f: (c: HelloMessage['cameras'][number]) => T) => hello.cameras.map(f);
    return this.db.$transaction(async (tx) => {
      await tx.node.upsert({ where: { id: nodeId }, create: { id: nodeId, ...info }, update: info });
      await tx.camera.deleteMany({ where: { nodeId, id: { notIn: ids } } });
      if (ids.length === 0) return { refused: [] };
      // One statement; ON CONFLICT changes a row only when this node already owns it, so two
      // nodes naming a new camera at once cannot both get it.
      await tx.$executeRawUnsafe(
        `INSERT INTO "Camera" (id, "nodeId", name, codec, width, height, fps, simulated, state, "updatedAt")
         SELECT v.id, $1, v.name, v.codec, v.width, v.height, v.fps, v.simulated, 'starting',
                now() AT TIME ZONE 'UTC'
           FROM unnest($2::text[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::float8[], $8::bool[])
             AS v(id, name, codec, width, height, fps, simulated)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, codec = EXCLUDED.codec,
           width = EXCLUDED.width, height = EXCLUDED.height, fps = EXCLUDED.fps,
           simulated = EXCLUDED.simulated, "updatedAt" = EXCLUDED."updatedAt"
         WHERE "Camera"."nodeId" = EXCLUDED."nodeId"`,
        nodeId,
        ids,
        col((c) => c.name),
        col((c) => c.codec),
        col((c) => c.width),
        col((c) => c.height),
        col((c) => c.fps),
        col((c) => c.simulated),
      );
      const foreign = await tx.camera.findMany({
        where: { id: { in: ids }, nodeId: { not: nodeId } },
        select: { id: true, nodeId: true },
      });
      return { refused: foreign.map((c) => ({ cameraId: c.id, ownerNodeId: c.nodeId })) };
    });
  }

  /**
   * Gives a camera to another node (an admin's decision); returns the previous owner, or null
   * when the camera or the node is unknown.
   */
  async moveCamera(cameraId: string, nodeId: string): Promise<{ from: string } | null> {
    return this.db.$transaction(async (tx) => {
      const camera = await tx.camera.findUnique({ where: { id: cameraId }, select: { nodeId: true } });
      const node = await tx.node.findUnique({ where: { id: nodeId }, select: { id: true } });
      if (!camera || !node) return null;
      if (camera.nodeId !== nodeId)
        await tx.camera.update({ where: { id: cameraId }, data: { nodeId, state: 'starting' } });
      return { from: camera.nodeId };
    });
  }

  /**
   * Records the newest heartbeat of each node in one statement, and the camera states they
   * carry; returns the ids of the nodes that exist (heartbeats of unknown nodes are not stored).
   */
  async applyHeartbeats(
    batch: { nodeId: string; heartbeat: HeartbeatMessage; at: Date }[],
  ): Promise<string[]> {
    if (batch.length === 0) return [];
    const stored = await this.db.$queryRawUnsafe<{ id: string }[]>(
      `UPDATE "Node" AS n SET "lastHeartbeat" = v.hb, "lastHeartbeatAt" = v.at, "lastSeenAt" = v.at
         FROM unnest($1::text[], $2::jsonb[], $3::timestamp(3)[]) AS v(id, hb, at)
        WHERE n.id = v.id
        RETURNING n.id`,
      batch.map((b) => b.nodeId),
      batch.map((b) => JSON.stringify(b.heartbeat)),
      batch.map((b) => b.at),
    );
    const known = new Set(stored.map((r) => r.id));
    const cameras = batch
      .filter((b) => known.has(b.nodeId))
      .flatMap((b) => b.heartbeat.cameras.map((c) => ({ id: c.id, nodeId: b.nodeId, state: c.state })));
    if (cameras.length > 0)
      // Only rows whose state differs are written; a camera of another node is left alone.
      await this.db.$executeRawUnsafe(
        `UPDATE "Camera" AS c SET state = v.state, "updatedAt" = now()
           FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, node, state)
          WHERE c.id = v.id AND c."nodeId" = v.node AND c.state IS DISTINCT FROM v.state`,
        cameras.map((c) => c.id),
        cameras.map((c) => c.nodeId),
        cameras.map((c) => c.state),
      );
    return [...known];
  }

  /** Stale nodes among `nodeIds` (their heartbeats just arrived) are online again; returns them. */
  async reviveStale(nodeIds: string[], at: Date): Promise<string[]> {
    if (nodeIds.length === 0) return [];
    return this.db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
        `UPDATE "Node" SET state = 'online', "stateChangedAt" = $2
          WHERE id = ANY($1::text[]) AND state = 'stale'
          RETURNING id`,
        nodeIds,
        at,
      );
      if (rows.length > 0)
        await tx.nodeStateChange.createMany({
          data: rows.map((r) => ({ nodeId: r.id, state: 'online', reason: 'heartbeat', at })),
        });
      return rows.map((r) => r.id);
    });
  }

  async getMany(nodeIds: string[]): Promise<NodeView[]> {
    const rows = await this.db.node.findMany({ where: { id: { in: nodeIds } }, include: { cameras: true } });
    const desired = await this.desiredVersions(nodeIds);
    return rows.map((r) => toView(r, this.reportHeartbeat, desired));
  }

  async camera(cameraId: string): Promise<CameraView | null> {
    const c = await this.db.camera.findUnique({ where: { id: cameraId }, include: { node: true } });
    return c
      ? (toView({ ...c.node, cameras: [c] }, this.reportHeartbeat, new Map()).cameras[0] ?? null)
      : null;
  }

  async get(nodeId: string): Promise<NodeView | null> {
    const n = await this.db.node.findUnique({ where: { id: nodeId }, include: { cameras: true } });
    return n ? toView(n, this.reportHeartbeat, await this.desiredVersions([nodeId])) : null;
  }

  /**
   * The fleet page as JSON text, built by PostgreSQL: the same `NodeView[]` as `list()`, but the
   * master's event loop neither maps 5,000 rows nor serialises 2 MB while heartbeats pour in.
   * `cameraIds` limits it to those cameras and their nodes (null: everything).
   */
  async listJson(cameraIds: string[] | null): Promise<string> {
    const rows = await this.db.$queryRawUnsafe<{ page: string }[]>(
      `SELECT COALESCE(json_agg(v ORDER BY v_id COLLATE "C"), '[]')::text AS page FROM (
         SELECT n.id AS v_id, json_build_object(
           'id', n.id, 'state', n.state, 'agentVersion', n."agentVersion", 'hostname', n.hostname,
           'platform', n.platform, 'arch', n.arch,
           'lastSeenAt', ${isoSql('n."lastSeenAt"')}, 'lastHeartbeatAt', ${isoSql('n."lastHeartbeatAt"')},
           'stateChangedAt', ${isoSql('n."stateChangedAt"')}, 'heartbeat', ${HEARTBEAT_SQL},
           'config', ${configStatusSql(HEARTBEAT_SQL, '(SELECT max(v.version) FROM "NodeConfigVersion" v WHERE v."nodeId" = n.id)')},
           'cameras', COALESCE((
             SELECT json_agg(json_build_object(
               'id', c.id, 'nodeId', c."nodeId", 'name', c.name, 'codec', c.codec, 'width', c.width,
               'height', c.height, 'fps', c.fps, 'simulated', c.simulated, 'state', c.state,
               'online', n.state = 'online') ORDER BY c.id COLLATE "C")
             FROM "Camera" c WHERE c."nodeId" = n.id AND ($1::text[] IS NULL OR c.id = ANY($1::text[]))
           ), '[]'::json)) AS v
         FROM "Node" n
         WHERE $1::text[] IS NULL
            OR EXISTS (SELECT 1 FROM "Camera" c WHERE c."nodeId" = n.id AND c.id = ANY($1::text[]))
       ) AS x`,
      cameraIds,
    );
    return rows[0]?.page ?? '[]';
  }

  async list(): Promise<NodeView[]> {
    const rows = await this.db.node.findMany({ include: { cameras: true }, orderBy: { id: 'asc' } });
    const desired = await this.desiredVersions(null);
    // Code-point order whatever the database's collation, as `listJson`.
    return rows
      .map((r) => toView(r, this.reportHeartbeat, desired))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The newest desired-config version of each node (all nodes when `nodeIds` is null). */
  private async desiredVersions(nodeIds: string[] | null): Promise<Map<string, number>> {
    const rows = await this.db.nodeConfigVersion.groupBy({
      by: ['nodeId'],
      _max: { version: true },
      ...(nodeIds ? { where: { nodeId: { in: nodeIds } } } : {}),
    });
    return new Map(rows.map((r) => [r.nodeId, r._max.version ?? 0]));
  }

  async countByState(): Promise<Record<NodeView['state'], number>> {
    const rows = await this.db.node.groupBy({ by: ['state'], _count: { _all: true } });
    const out = { online: 0, stale: 0, offline: 0 };
    for (const r of rows) out[r.state] = r._count._all;
    return out;
  }
}
