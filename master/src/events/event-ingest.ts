/**
 * Event messages from every node: validated on arrival, queued (bounded), written in batches
 * of up to `maxBatch` rows, one statement each, at most one write in flight. The first message
 * into an idle queue waits at most `flushMs` for company; under load batches follow each
 * other back to back. Stored rows are reported through `onStored`.
 */
import { type EventMessage, parseNodeTopic, snapshotRefProblem, topics, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { MasterMetrics } from '../metrics.ts';
import type { MessageBus } from '../mqtt/message-bus.ts';
import type { EventRefusal, EventRepository, IncomingEvent } from './event-repository.ts';
import type { EventRow } from './event-view.ts';

export interface EventIngestOptions {
  repo: Pick<EventRepository, 'applyBatch'>;
  metrics: MasterMetrics;
  log: Logger;
  onStored?: (rows: EventRow[]) => void;
  /** Messages held before new ones are dropped (reason `overload`). */
  maxQueue?: number;
  maxBatch?: number;
  flushMs?: number;
  /** Waits before retrying a failed write; after the last the batch is dropped (`store_failed`). */
  retryMs?: number[];
  /**
   * A message for a camera no node has registered yet waits this long, then is tried again,
   * this many times: the node's hello may be a moment behind its first events (an outbox
   * replayed at connect). Default 1 s × 5.
   */
  unknownCameraRetryMs?: number;
  unknownCameraRetries?: number;
  /** A message refused for ownership (another node's camera or event, an unknown camera). */
  onRefused?: (refusal: EventRefusal) => void;
}

const INT4_MAX = 2 ** 31 - 1;
// Postgres rejects NUL in text and jsonb; such a payload would fail its whole batch.
const NUL = '\\u0000';
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2200, 0, 1);

/** Normalises the message's times to UTC `...Z`; an error text when a value cannot be stored. */
function normalise(m: EventMessage): string | null {
  if (m.seq > INT4_MAX || m.frames > INT4_MAX) return 'seq or frames out of range';
  for (const key of ['startedAt', 'at', 'endedAt', 'bestAt'] as const) {
    const v = m[key];
    if (v === undefined) continue;
    const t = Date.parse(v);
    if (!(t >= MIN_TIME && t < MAX_TIME)) return `${key} out of range`;
    m[key] = new Date(t).toISOString();
  }
  return null;
}

export class EventIngest {
  private queue: IncomingEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private stopped = false;
  private overloadLoggedAt = 0;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly flushMs: number;
  private readonly retryMs: number[];
  /** Messages for unknown cameras waiting to be tried again, and the tries made of each. */
  private parked: IncomingEvent[] = [];
  private readonly attempts = new WeakMap<IncomingEvent, number>();
  private parkTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: EventIngestOptions) {
    this.maxQueue = opts.maxQueue ?? 50_000;
    this.maxBatch = opts.maxBatch ?? 500;
    this.flushMs = opts.flushMs ?? 20;
    this.retryMs = opts.retryMs ?? [100, 500, 2000];
  }

  /** Subscribes to the events of every node (shared between master processes on an external broker). */
  async start(bus: MessageBus): Promise<void> {
    await bus.subscribeShared(topics.all.events, (topic, payload) => this.receive(topic, payload));
  }

  /** Validates one MQTT message and queues it; never throws. */
  receive(topic: string, payload: Buffer): void {
    const parsed = parseNodeTopic(topic);
    const error = (() => {
      if (parsed?.kind !== 'events') return { reason: 'bad_topic', detail: topic };
      if (payload.includes(NUL)) return { reason: 'invalid_payload', detail: 'contains \\u0000' };
      const result = validators.event.parse(payload);
      if (!result.ok) return { reason: 'invalid_payload', detail: result.error };
      const bad = normalise(result.value);
      if (bad) return { reason: 'invalid_payload', detail: bad };
      const snapshot = snapshotRefProblem(result.value);
      if (snapshot) return { reason: 'bad_snapshot', detail: snapshot };
      this.opts.metrics.mqttMessages.inc({ kind: 'events' });
      this.enqueue({ nodeId: parsed.nodeId, msg: result.value });
      return null;
    })();
    if (error) this.reject(error.reason, parsed?.nodeId ?? null, error.detail);
  }

  enqueue(item: IncomingEvent): void {
    if (this.stopped || this.queue.length >= this.maxQueue) {
      this.drop('overload', [item]);
      return;
    }
    this.queue.push(item);
    this.opts.metrics.eventQueueDepth.set(this.queue.length);
    if (this.writing) return; // the running drain picks it up
    if (this.queue.length >= this.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.flushMs);
  }

  /** Resolves when everything queued so far is written (or dropped). */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.writing) {
      this.kick();
      await this.writing;
    }
  }

  /** Refuses new messages and writes what is queued; parked messages are tried once more. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.parkTimer) clearTimeout(this.parkTimer);
    this.parkTimer = null;
    this.unpark(true);
    await this.idle();
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.opts.metrics.eventQueueDepth.set(this.queue.length);
      await this.write(batch);
    }
  }

  private async write(batch: IncomingEvent[]): Promise<void> {
    const { metrics, log } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const end = metrics.eventInsertSeconds.startTimer();
      try {
        const result = await this.opts.repo.applyBatch(batch);
        end();
        metrics.eventBatchSize.observe(batch.length);
        const refused = new Set(result.refused.map((r) => `${r.item.nodeId}|${r.item.msg.id.toLowerCase()}`));
        for (const r of result.refused) this.refuse(r);
        for (const { nodeId, msg } of batch)
          if (!refused.has(`${nodeId}|${msg.id.toLowerCase()}`))
            metrics.eventsIngested.inc({ type: msg.type, phase: msg.phase });
        if (result.stored.length > 0) this.report(result.stored);
        return;
      } catch (err) {
        const wait = this.retryMs[attempt];
        if (wait === undefined) {
          log.error({ err, size: batch.length }, 'event batch not stored; dropped');
          this.drop('store_failed', batch);
          return;
        }
        log.warn({ err, size: batch.length, attempt: attempt + 1 }, 'event batch not stored; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Parks a message for an unknown camera for another try, or refuses it for good. */
  private refuse(r: EventRefusal): void {
    const attempts = this.attempts.get(r.item) ?? 0;
    const retries = this.opts.unknownCameraRetries ?? 5;
    if (r.reason === 'unknown_camera' && attempts < retries && !this.stopped) {
      this.attempts.set(r.item, attempts + 1);
      this.parked.push(r.item);
      this.parkTimer ??= setTimeout(() => this.unpark(false), this.opts.unknownCameraRetryMs ?? 1000);
      return;
    }
    const { item, reason, ownerNodeId } = r;
    const detail =
      reason === 'unknown_camera'
        ? `camera ${item.msg.cameraId} is not registered by any node`
        : reason === 'camera_mismatch'
          ? `camera ${item.msg.cameraId} belongs to ${ownerNodeId}`
          : `event ${item.msg.id} belongs to ${ownerNodeId}`;
    this.reject(reason, item.nodeId, detail);
    try {
      this.opts.onRefused?.(r);
    } catch (err) {
      this.opts.log.error({ err }, 'onRefused failed');
    }
  }

  private unpark(final: boolean): void {
    this.parkTimer = null;
    const parked = this.parked;
    this.parked = [];
    for (const item of parked) {
      // At stop the last try is made now; a refusal then is final (refuse() sees stopped).
      if (final) this.queue.push(item);
      else this.enqueue(item);
    }
    if (final) this.kick();
  }

  private report(rows: EventRow[]): void {
    try {
      this.opts.onStored?.(rows);
    } catch (err) {
      this.opts.log.error({ err }, 'onStored failed');
    }
  }

  private reject(reason: string, nodeId: string | null, detail: string): void {
    this.opts.metrics.mqttRejected.inc({ kind: 'events', reason });
    this.opts.log.warn({ nodeId, kind: 'events', reason, detail }, 'rejected node message');
  }

  private drop(reason: 'overload' | 'store_failed', items: IncomingEvent[]): void {
    this.opts.metrics.eventsDropped.inc({ reason }, items.length);
    this.opts.metrics.mqttRejected.inc({ kind: 'events', reason }, items.length);
    const now = Date.now();
    // One line per second at most: an overloaded master should not also flood its log.
    if (reason === 'store_failed' || now - this.overloadLoggedAt >= 1000) {
      this.overloadLoggedAt = now;
      this.opts.log.warn(
        { reason, count: items.length, queued: this.queue.length, nodeId: items[0]?.nodeId },
        'event messages dropped',
      );
    }
  }
}
