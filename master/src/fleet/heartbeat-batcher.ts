/**
 * Heartbeats arrive at up to thousands per second (1,000 nodes every second or so); writing each
 * on arrival would make the database the bottleneck. The batcher keeps the newest heartbeat per
 * node and writes all of them in one statement every `intervalMs`, then reports which nodes it
 * stored (their views are pushed to dashboards once per flush, not once per message) and which
 * it could not (no such node).
 */
import type { HeartbeatMessage } from '@cctv/protocol';
import type { Logger } from 'pino';

export interface PendingHeartbeat {
  nodeId: string;
  heartbeat: HeartbeatMessage;
  at: Date;
}

export interface HeartbeatBatcherOptions {
  /** Writes one batch; returns the ids of the nodes that exist (the others are unknown). */
  write: (batch: PendingHeartbeat[]) => Promise<string[]>;
  onStored?: (nodeIds: string[]) => void;
  onUnknown?: (nodeId: string) => void;
  onFlush?: (size: number, ms: number) => void;
  log: Logger;
  intervalMs?: number;
}

export class HeartbeatBatcher {
  private pending = new Map<string, PendingHeartbeat>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: HeartbeatBatcherOptions) {}

  /** Keeps the newest heartbeat of the node for the next flush. */
  accept(nodeId: string, heartbeat: HeartbeatMessage, at: Date): void {
    this.pending.set(nodeId, { nodeId, heartbeat, at });
  }

  /** Heartbeats waiting for the next flush. */
  get waiting(): number {
    return this.pending.size;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Writes what is waiting (after any flush in progress); resolves when stored. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushNow());
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const t0 = performance.now();
    try {
      const stored = new Set(await this.opts.write(batch));
      this.opts.onFlush?.(batch.length, performance.now() - t0);
      for (const p of batch) if (!stored.has(p.nodeId)) this.opts.onUnknown?.(p.nodeId);
      if (stored.size > 0) this.opts.onStored?.([...stored]);
    } catch (err) {
      // Heartbeats are state, not history: the next one replaces a lost batch. Put back only
      // what no newer heartbeat has replaced meanwhile.
      for (const p of batch) if (!this.pending.has(p.nodeId)) this.pending.set(p.nodeId, p);
      this.opts.log.error(
        { err, size: batch.length },
        'heartbeat batch not stored; retried with the next flush',
      );
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
