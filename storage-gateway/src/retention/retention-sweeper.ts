import type { Logger } from 'pino';
import type { RetentionConfig } from '../config.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { NasFiles } from './nas-files.ts';
import type {
  EventProtection,
  RetentionCandidate,
  RetentionCursor,
  RetentionRepository,
} from './retention-repository.ts';
import type { HeldRound, RoundLock } from './round-lock.ts';
import {
  type BlockedInfo,
  type DeletedSegment,
  emptySummary,
  type NasUsage,
  type RetentionReason,
  type SweepSummary,
} from './sweep-report.ts';

export * from './sweep-report.ts';

export type Delay = (ms: number, signal: AbortSignal) => Promise<void>;

export interface RetentionSweeperOptions {
  repository: RetentionRepository;
  nas: NasFiles;
  lock: KeyedLock;
  config: RetentionConfig;
  logger: Logger;
  now?: () => Date;
  /** Waits between sweeps; injected so tests need not sleep for real. */
  delay?: Delay;
  /** Pause between start() and the first sweep; default a minute (or the interval, if shorter). */
  firstSweepDelayMs?: number;
  /** Rows per query. */
  batchSize?: number;
  /**
   * True while an init file may still get segments that are not indexed yet (an agent has just
   * uploaded it again for a new recording run): such an init is kept.
   */
  initRecentlyUsed?: (camera: string, initName: string) => boolean;
  /**
   * One round at a time among the gateways sharing the database; a round that finds it taken is
   * skipped. Without it, every round runs (one gateway, tests).
   */
  roundLock?: RoundLock;
  /** A round skipped: another gateway was sweeping. */
  onSkipped?: () => void;
  onDeleted?: (segment: DeletedSegment) => void;
  onBlocked?: (info: BlockedInfo) => void;
  onSweep?: (summary: SweepSummary) => void;
}

const DAY_MS = 86_400_000;

/** A failure of the NAS itself (not of the database), told apart for the log. */
class NasUnavailableError extends Error {
  readonly code = 'nas_unavailable';
  constructor(cause: unknown) {
    super('the NAS did not answer a retention request', { cause });
    this.name = 'NasUnavailableError';
  }
}

const realDelay: Delay = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Deletes NAS recordings by age (per-camera days) and by a free-space watermark (oldest
 * first), keeping footage around detection events. Each segment is removed under its file
 * lock: NAS file first, then the row, so a failure leaves at worst a row whose file is gone,
 * which the next round deletes.
 */
export class RetentionSweeper {
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  /** Init files whose segments went in a round that then failed: checked again next round. */
  private readonly pendingInits = new Map<string, { camera: string; initName: string; near: Date }>();
  private failing = false;
  /** The running round's lock: lost, the round stops where it is. */
  private round: HeldRound | null = null;

  constructor(private readonly opts: RetentionSweeperOptions) {}

  /** stop() was called, or the round lost its lock (another gateway may be sweeping now). */
  private halted(): boolean {
    return this.stopSignal.signal.aborted || this.round?.lost.aborted === true;
  }

  /** Sweeps shortly after start, then every GATEWAY_RETENTION_INTERVAL_S. */
  start(): void {
    if (this.loop || this.stopSignal.signal.aborted) return;
    this.loop = this.run();
  }

  /** Resolves once no sweep runs any more: one in progress stops after its current segment. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    await this.loop;
    await this.tail;
  }

  /** Runs one sweep now (after any sweep already running); never throws, see `ok`. */
  sweepOnce(): Promise<SweepSummary> {
    const run = this.tail.then(() => this.sweep());
    this.tail = run.catch(() => {});
    return run;
  }

  private async run(): Promise<void> {
    const delay = this.opts.delay ?? realDelay;
    const signal = this.stopSignal.signal;
    // Not at once: a restart first drains the buffer backlog; the NAS usage settles with it.
    let wait = this.opts.firstSweepDelayMs ?? Math.min(60_000, this.opts.config.intervalS * 1000);
    while (!signal.aborted) {
      await delay(wait, signal);
      if (signal.aborted) break;
      // Only a throwing callback gets here; the loop must outlive it.
      await this.sweepOnce().catch((err: unknown) =>
        this.opts.logger.error({ err }, 'retention sweep failed'),
      );
      wait = this.opts.config.intervalS * 1000;
    }
  }

  private async sweep(): Promise<SweepSummary> {
    const now = (this.opts.now ?? (() => new Date()))();
    const summary = emptySummary(now);
    const { config, logger, roundLock } = this.opts;
    const protection: EventProtection = {
      padMs: config.eventPadS * 1000,
      endedAfter: new Date(now.getTime() - config.eventRetentionDays * DAY_MS),
    };
    try {
      this.round = roundLock ? await roundLock.tryAcquire() : null;
      if (roundLock && !this.round) {
        summary.skipped = true;
        this.opts.onSkipped?.();
        logger.debug('retention round skipped: another gateway is sweeping');
      } else {
        await this.removeUnusedInits(summary, [...this.pendingInits.values()]);
        await this.byAge(now, protection, summary);
        await this.byWatermark(protection, summary);
        summary.aborted = this.halted();
      }
      if (this.failing) logger.info('retention sweeps succeed again');
      this.failing = false;
    } catch (err) {
      summary.ok = false;
      summary.error = err;
      this.failing = true;
      // One line per failed round; the next round starts over from the index.
      if (err instanceof NasUnavailableError)
        logger.warn({ err: err.cause }, 'retention sweep stopped: NAS unavailable');
      else logger.error({ err }, 'retention sweep stopped: database error');
    } finally {
      await this.round
        ?.release()
        .catch((err: unknown) => logger.warn({ err }, 'retention lock not given back cleanly'));
      this.round = null;
    }
    summary.finishedAt = (this.opts.now ?? (() => new Date()))();
    this.opts.onSweep?.(summary);
    return summary;
  }

  /** Rule 1: per camera, NAS segments that ended more than its retention days ago. */
  private async byAge(now: Date, protection: EventProtection, summary: SweepSummary): Promise<void> {
    const { config, repository } = this.opts;
    const limit = this.opts.batchSize ?? 500;
    // Days set on the dashboard (the master's desired configuration) first, then this
    // gateway's per-camera setting, then its default.
    const configured = await repository.configuredDays();
    for (const camera of await repository.cameras()) {
      const days = configured.get(camera) ?? config.cameraDays.get(camera) ?? config.days;
      if (days === 0) continue; // kept forever (the watermark may still take it)
      const cutoff = new Date(now.getTime() - days * DAY_MS);
      let cursor: RetentionCursor | null = null;
      for (;;) {
        if (this.halted()) return;
        const batch = await repository.expired(camera, cutoff, protection, cursor, limit);
        cursor = await this.deleteBatch(batch, 'age', summary, () => true);
        if (batch.length < limit) break;
      }
    }
  }

  /** Rule 2: while the NAS is below its free-space mark, the oldest segments of any camera. */
  private async byWatermark(protection: EventProtection, summary: SweepSummary): Promise<void> {
    const { config, repository } = this.opts;
    const limit = this.opts.batchSize ?? 500;
    let usage = await this.usage(summary);
    if (config.nasMinFreePercent === 0) return;
    const target = Math.ceil((usage.totalBytes * config.nasMinFreePercent) / 100);
    // Counted down by the rows' sizes as well as re-read from statfs, so a NAS that reports
    // freed space late (NFS) never makes us delete more than the deficit we started with.
    let missing = target - usage.freeBytes;
    let cursor: RetentionCursor | null = null;
    while (missing > 0) {
      if (this.halted()) return;
      const batch = await repository.oldest(protection, cursor, limit);
      if (batch.length === 0) {
        const info: BlockedInfo = { ...usage, targetFreeBytes: target, missingBytes: missing };
        summary.blocked = info;
        this.opts.logger.warn(
          { ...info, minFreePercent: config.nasMinFreePercent },
          'NAS below its free-space mark, but every segment left is protected by an event or not on the NAS yet',
        );
        this.opts.onBlocked?.(info);
        return;
      }
      cursor = await this.deleteBatch(batch, 'watermark', summary, (bytes) => {
        missing -= bytes;
        return missing > 0;
      });
      usage = await this.usage(summary);
      missing = Math.min(missing, target - usage.freeBytes);
    }
  }

  /**
   * Deletes a batch in order until `more` says enough; then the init files nothing refers to
   * any more. Returns the cursor after the last candidate looked at.
   */
  private async deleteBatch(
    batch: RetentionCandidate[],
    reason: RetentionReason,
    summary: SweepSummary,
    more: (freedBytes: number) => boolean,
  ): Promise<RetentionCursor | null> {
    let cursor: RetentionCursor | null = null;
    const inits = new Map<string, { camera: string; initName: string; near: Date }>();
    try {
      for (const seg of batch) {
        if (this.halted()) break;
        cursor = { startAt: seg.startAt, id: seg.id };
        if (!(await this.deleteSegment(seg))) continue;
        summary.deleted[reason].segments += 1;
        summary.deleted[reason].bytes += seg.bytes;
        this.opts.onDeleted?.({ camera: seg.cameraId, name: seg.name, bytes: seg.bytes, reason });
        const key = `${seg.cameraId}/${seg.initName}`;
        if (!inits.has(key))
          inits.set(key, { camera: seg.cameraId, initName: seg.initName, near: seg.startAt });
        if (!more(seg.bytes)) break;
      }
    } finally {
      for (const [key, init] of inits) this.pendingInits.set(key, init);
    }
    await this.removeUnusedInits(summary, [...inits.values()]);
    return cursor;
  }

  private async deleteSegment(seg: RetentionCandidate): Promise<boolean> {
    const { lock, nas, repository } = this.opts;
    return lock.run(`${seg.cameraId}/${seg.name}`, async () => {
      // Re-read under the lock: a re-PUT may have put it back in the buffer meanwhile.
      if (!(await repository.stillOnNas(seg.id))) return false;
      await nas.remove(seg.cameraId, seg.name).catch((err: unknown) => {
        throw new NasUnavailableError(err);
      });
      return repository.delete(seg.id);
    });
  }

  private async removeUnusedInits(
    summary: SweepSummary,
    inits: { camera: string; initName: string; near: Date }[],
  ): Promise<void> {
    const { lock, nas, repository } = this.opts;
    for (const { camera, initName, near } of inits) {
      const removed = await lock.run(`${camera}/${initName}`, async () => {
        if (this.opts.initRecentlyUsed?.(camera, initName)) return false;
        if (await repository.initReferenced(camera, initName, near)) return false;
        await nas.remove(camera, initName).catch((err: unknown) => {
          throw new NasUnavailableError(err);
        });
        return true;
      });
      this.pendingInits.delete(`${camera}/${initName}`);
      if (removed) summary.initsDeleted += 1;
    }
  }

  private async usage(summary: SweepSummary): Promise<NasUsage> {
    try {
      summary.usage = await this.opts.nas.usage();
      return summary.usage;
    } catch (err) {
      throw new NasUnavailableError(err);
    }
  }
}
