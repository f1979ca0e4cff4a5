import type { HeartbeatMessage, HelloMessage, NodeView, StatusMessage } from '@cctv/protocol';
import type { Logger } from 'pino';
import { Semaphore } from '../semaphore.ts';
import { HeartbeatBatcher } from './heartbeat-batcher.ts';
import type { CameraClaimRefusal, NodeRepository } from './node-repository.ts';

export interface RegistryEvents {
  /** A node's row changed (state, hello, heartbeat); carries the fresh view. */
  onNodeChanged?: (node: NodeView) => void;
  /**
   * Node rows changed, by id, without reading them: with several masters each reads the views
   * it pushes (master/src/cluster). When set, `onNodeChanged` is not called.
   */
  onNodesChanged?: (ids: string[]) => void;
  /** Whether this master judges stale nodes now (the cluster's leader); default always. */
  judgesStale?: () => boolean;
  /** False while nobody listens for node views: they are then not even read (1,000 a second). */
  wantsNodeViews?: () => boolean;
  onStatesChanged?: () => void;
  /** A heartbeat of a node the registry does not know (no status or hello yet) was dropped. */
  onUnknownHeartbeat?: (nodeId: string) => void;
  /** A heartbeat batch was written: its size and how long it took. */
  onHeartbeatFlush?: (size: number, ms: number) => void;
  /** A hello named a camera another node owns; that camera was left as it was. */
  onCameraClaimRefused?: (nodeId: string, refusal: CameraClaimRefusal) => void;
}

export class UnknownNodeError extends Error {
  readonly code = 'UNKNOWN_NODE';
  constructor(readonly nodeId: string) {
    super(`node ${nodeId} is unknown: no status or hello seen yet`);
  }
}

/**
 * Status, hello and admin moves applied at once, across nodes. A connect storm (5,000 nodes
 * after a broker restart) would otherwise start thousands of transactions that wait for a
 * connection of the pool past Prisma's limit and fail: each waits here instead, in order.
 */
const CONCURRENT_WRITES = 6;

/**
 * The fleet registry: applies status, hello and heartbeat messages to the node rows. Messages
 * of one node are applied one after another, in arrival order; different nodes run concurrently,
 * at most CONCURRENT_WRITES at a time.
 */
export class FleetRegistry {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly writes = new Semaphore(CONCURRENT_WRITES);
  private readonly heartbeats: HeartbeatBatcher;
  private staleTimer: NodeJS.Timeout | null = null;
  private checkingStale = false;

  constructor(
    private readonly repo: NodeRepository,
    private readonly log: Logger,
    private readonly events: RegistryEvents = {},
    private readonly now: () => Date = () => new Date(),
    heartbeatFlushMs = 1000,
    /** A node online by its status but without a heartbeat for this long is stale; 0: never. */
    private readonly staleAfterMs = 0,
  ) {
    this.heartbeats = new HeartbeatBatcher({
      write: async (batch) => {
        const stored = await repo.applyHeartbeats(batch);
        const revived = await repo.reviveStale(stored, this.now());
        if (revived.length > 0) {
          log.info({ nodes: revived }, 'stale nodes sent heartbeats again: online');
          events.onStatesChanged?.();
        }
        return stored;
      },
      onStored: (ids) => void this.publishMany(ids),
      onUnknown: (nodeId) => events.onUnknownHeartbeat?.(nodeId),
      ...(events.onHeartbeatFlush ? { onFlush: events.onHeartbeatFlush } : {}),
      log,
      intervalMs: heartbeatFlushMs,
    });
    this.heartbeats.start();
    if (staleAfterMs > 0) {
      // Checked a few times per stale age, so a node turns stale at most a quarter late.
      this.staleTimer = setInterval(
        () => void this.checkStale(),
        Math.max(250, Math.floor(staleAfterMs / 4)),
      );
      this.staleTimer.unref();
    }
  }

  /** Marks online nodes without a recent heartbeat stale and pushes their new views. */
  async checkStale(): Promise<string[]> {
    if (this.checkingStale || this.events.judgesStale?.() === false) return [];
    this.checkingStale = true;
    try {
      const at = this.now();
      const stale = await this.repo.markStale(new Date(at.getTime() - this.staleAfterMs), at);
      if (stale.length > 0) {
        this.log.warn({ nodes: stale, staleAfterMs: this.staleAfterMs }, 'nodes stale: no recent heartbeat');
        this.events.onStatesChanged?.();
        await this.publishMany(stale);
      }
      return stale;
    } catch (err) {
      this.log.error({ err }, 'stale check failed; retried at the next tick');
      return [];
    } finally {
      this.checkingStale = false;
    }
  }

  /** At start of an embedded broker no node is connected yet. */
  async resetStates(): Promise<void> {
    const n = await this.repo.markAllOffline(this.now());
    if (n) this.log.info({ nodes: n }, 'marked nodes offline until they reconnect');
    this.events.onStatesChanged?.();
  }

  status(nodeId: string, msg: StatusMessage): Promise<void> {
    return this.serial(nodeId, async () => {
      const changed = await this.repo.applyStatus(nodeId, msg.state, msg.agentVersion, this.now());
      if (changed) {
        this.log.info({ nodeId, state: msg.state }, `node ${msg.state}`);
        this.events.onStatesChanged?.();
      }
      await this.publish(nodeId);
    });
  }

  hello(nodeId: string, msg: HelloMessage): Promise<void> {
    return this.serial(nodeId, async () => {
      const { refused } = await this.repo.applyHello(msg, this.now());
      this.log.info(
        { nodeId, agentVersion: msg.agentVersion, cameras: msg.cameras.map((c) => c.id) },
        'node hello',
      );
      for (const refusal of refused) this.events.onCameraClaimRefused?.(nodeId, refusal);
      await this.publish(nodeId);
    });
  }

  /**
   * Gives a camera to another node (an admin's decision), in the order of the new owner's own
   * messages; both nodes' views are pushed. Null when the camera or the node is unknown.
   */
  moveCamera(cameraId: string, nodeId: string): Promise<{ from: string } | null> {
    let result: { from: string } | null = null;
    return this.serial(nodeId, async () => {
      result = await this.repo.moveCamera(cameraId, nodeId);
      if (!result) return;
      this.log.info({ cameraId, from: result.from, to: nodeId }, 'camera moved to another node');
      await this.publish(nodeId);
      if (result.from !== nodeId) await this.publish(result.from);
    }).then(() => result);
  }

  /**
   * Queues the heartbeat for the next batch (see heartbeat-batcher.ts). While a status or
   * hello of the node is still being applied, the heartbeat waits for it: otherwise a batch
   * flushed in between would find no row for the node or its cameras, and the state the
   * heartbeat carries would be lost until the next one.
   */
  heartbeat(nodeId: string, msg: HeartbeatMessage): Promise<void> {
    const at = this.now();
    if (!this.queues.has(nodeId)) {
      this.heartbeats.accept(nodeId, msg, at);
      return Promise.resolve();
    }
    return this.serial(nodeId, async () => this.heartbeats.accept(nodeId, msg, at));
  }

  /** Heartbeats waiting for the next batch. */
  get heartbeatsWaiting(): number {
    return this.heartbeats.waiting;
  }

  /** One node as stored (the API reads through `FleetReads` on its own pool). */
  get(nodeId: string): Promise<NodeView | null> {
    return this.repo.get(nodeId);
  }

  /** Resolves when every queued message has been applied (heartbeats written). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    await this.heartbeats.flush();
  }

  /** Writes the last heartbeats and stops the batch timer. */
  stop(): Promise<void> {
    if (this.staleTimer) clearInterval(this.staleTimer);
    this.staleTimer = null;
    return this.heartbeats.stop();
  }

  private async publishMany(nodeIds: string[]): Promise<void> {
    if (this.events.onNodesChanged) {
      if (nodeIds.length > 0) this.events.onNodesChanged(nodeIds);
      return;
    }
    if (!this.events.onNodeChanged || this.events.wantsNodeViews?.() === false) return;
    try {
      for (const view of await this.repo.getMany(nodeIds)) this.events.onNodeChanged(view);
    } catch (err) {
      this.log.warn({ err }, 'node views not pushed after a heartbeat batch');
    }
  }

  private async publish(nodeId: string): Promise<void> {
    if (this.events.onNodesChanged) {
      this.events.onNodesChanged([nodeId]);
      return;
    }
    if (!this.events.onNodeChanged || this.events.wantsNodeViews?.() === false) return;
    const view = await this.repo.get(nodeId);
    if (view) this.events.onNodeChanged(view);
  }

  private serial(nodeId: string, work: () => Promise<void>): Promise<void> {
    const prev = this.queues.get(nodeId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.writes.run(work));
    this.queues.set(nodeId, next);
    const cleanup = () => {
      if (this.queues.get(nodeId) === next) this.queues.delete(nodeId);
    };
    next.then(cleanup, cleanup);
    return next;
  }
}
