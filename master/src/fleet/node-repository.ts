import type { Camera, Node, PrismaClient } from '@cctv/db';
import type { CameraView, HeartbeatMessage, HelloMessage, NodeView } from '@cctv/protocol';

type NodeWithCameras = Node & { cameras: Camera[] };

function toView(n: NodeWithCameras): NodeView {
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
    heartbeat: n.lastHeartbeat ?? null,
    cameras: n.cameras
      .sort((a, b) => a.id.localeCompare(b.id))
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

/** Node and Camera rows. The registry is the only writer. */
export class NodeRepository {
  constructor(private readonly db: PrismaClient) {}

  /** Every node offline: used when the embedded broker starts with no sessions or retained state. */
  async markAllOffline(at: Date): Promise<number> {
    const r = await this.db.node.updateMany({
      where: { state: 'online' },
      data: { state: 'offline', stateChangedAt: at },
    });
    return r.count;
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
    await this.db.node.upsert({
      where: { id: nodeId },
      create: { id: nodeId, state, agentVersion, lastSeenAt: at, stateChangedAt: at },
      update: {
        state,
        agentVersion,
        lastSeenAt: at,
        ...(changed ? { stateChangedAt: at } : {}),
      },
    });
    return changed;
  }

  async applyHello(hello: HelloMessage, at: Date): Promise<void> {
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
    await this.db.$transaction([
      this.db.node.upsert({ where: { id: nodeId }, create: { id: nodeId, ...info }, update: info }),
      this.db.camera.deleteMany({ where: { nodeId, id: { notIn: ids } } }),
      ...hello.cameras.map((c) => {
        const data = {
          nodeId,
          name: c.name,
          codec: c.codec,
          width: c.width,
          height: c.height,
          fps: c.fps,
          simulated: c.simulated,
        };
        return this.db.camera.upsert({
          where: { id: c.id },
          create: { id: c.id, ...data, state: 'starting' },
          update: data,
        });
      }),
    ]);
  }

  /** Records a heartbeat; false when the node is unknown (no status or hello seen yet). */
  async applyHeartbeat(nodeId: string, hb: HeartbeatMessage, at: Date): Promise<boolean> {
    const node = await this.db.node.findUnique({
      where: { id: nodeId },
      select: { cameras: { select: { id: true, state: true } } },
    });
    if (!node) return false;
    const known = new Map(node.cameras.map((c) => [c.id, c.state]));
    const changed = hb.cameras.filter((c) => known.has(c.id) && known.get(c.id) !== c.state);
    await this.db.$transaction([
      this.db.node.update({
        where: { id: nodeId },
        data: { lastHeartbeatAt: at, lastSeenAt: at, lastHeartbeat: hb },
      }),
      ...changed.map((c) => this.db.camera.update({ where: { id: c.id }, data: { state: c.state } })),
    ]);
    return true;
  }

  async get(nodeId: string): Promise<NodeView | null> {
    const n = await this.db.node.findUnique({ where: { id: nodeId }, include: { cameras: true } });
    return n ? toView(n) : null;
  }

  async list(): Promise<NodeView[]> {
    const rows = await this.db.node.findMany({ include: { cameras: true }, orderBy: { id: 'asc' } });
    return rows.map(toView);
  }

  async countByState(): Promise<Record<'online' | 'offline', number>> {
    const rows = await this.db.node.groupBy({ by: ['state'], _count: { _all: true } });
    const out = { online: 0, offline: 0 };
    for (const r of rows) out[r.state] = r._count._all;
    return out;
  }
}
