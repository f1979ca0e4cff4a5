/**
 * Turns per-frame detections of one kind (motion or faces) on one camera into events with a
 * lifecycle: `start` once detections persist, `update` while they go on (at most every
 * updateEveryMs, and when a better frame came), `end` once nothing was seen for endAfterMs
 * (or the event reached maxDurationMs; a new one then starts on the next detection). Pure
 * logic with the time passed in; snapshots are asked of the caller.
 */
import { randomUUID } from 'node:crypto';
import type { EventBox, EventMessage, EventType, SnapshotRef } from '@cctv/protocol';

export interface Detection<F> {
  /** Wall-clock time of the frame (ms since the epoch). */
  at: number;
  boxes: EventBox[];
  /** 0..1; the frame with the highest score is the event's best frame. */
  score: number;
  zones?: string[];
  /** Copies the frame; called only when this frame becomes the event's best. */
  capture?: () => F;
}

export interface EventTrackerOptions<F> {
  type: EventType;
  cameraId: string;
  /** Consecutive frames with detections before an event starts (filters single-frame blips). */
  startAfterFrames: number;
  endAfterMs: number;
  updateEveryMs: number;
  maxDurationMs: number;
  emit: (message: EventMessage) => void;
  /** Makes (in the background) a snapshot of the best frame and says where it will be served. */
  snapshot?: (eventId: string, n: number, frame: F, boxes: EventBox[], at: number) => SnapshotRef | undefined;
  newId?: () => string;
}

interface Active<F> {
  id: string;
  seq: number;
  startedAt: number;
  lastSeenAt: number;
  lastEmitAt: number;
  frames: number;
  boxes: EventBox[];
  zones: Set<string>;
  best: { at: number; score: number; boxes: EventBox[]; frame: F | undefined };
  /** `best.at` of the frame the current snapshot shows. */
  snapshotOf: number | null;
  snapshotCount: number;
  snapshot: SnapshotRef | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class EventTracker<F> {
  private active: Active<F> | null = null;
  private streak: Detection<F>[] = [];

  constructor(private readonly opts: EventTrackerOptions<F>) {}

  /** The running event's id, or null. */
  get current(): string | null {
    return this.active?.id ?? null;
  }

  /** A frame with detections. */
  observe(d: Detection<F>): void {
    const a = this.active;
    if (a && d.at - a.startedAt >= this.opts.maxDurationMs) this.end(a, d.at);
    if (!this.active) {
      this.streak.push(d);
      if (this.streak.length < this.opts.startAfterFrames) return;
      this.begin(this.streak);
      this.streak = [];
      return;
    }
    this.add(this.active, d);
    const cur = this.active;
    const betterUnseen = cur.snapshotOf !== cur.best.at;
    if (d.at - cur.lastEmitAt >= this.opts.updateEveryMs) {
      if (betterUnseen) this.takeSnapshot(cur);
      this.send(cur, 'update', d.at);
    }
  }

  /** A frame without detections (or one the detector did not look at). */
  idle(at: number): void {
    this.streak = [];
    const a = this.active;
    if (a && at - a.lastSeenAt >= this.opts.endAfterMs) this.end(a, a.lastSeenAt);
  }

  /** Ends the running event now (camera stopped or reconfigured). */
  flush(at: number): void {
    this.streak = [];
    if (this.active) this.end(this.active, Math.min(at, this.active.lastSeenAt + this.opts.endAfterMs));
  }

  private begin(streak: Detection<F>[]): void {
    const first = streak[0] as Detection<F>;
    const last = streak.at(-1) as Detection<F>;
    const a: Active<F> = {
      id: this.opts.newId?.() ?? randomUUID(),
      seq: 0,
      startedAt: first.at,
      lastSeenAt: first.at,
      lastEmitAt: last.at,
      frames: 0,
      boxes: [],
      zones: new Set(),
      best: { at: -1, score: -1, boxes: [], frame: undefined },
      snapshotOf: null,
      snapshotCount: 0,
      snapshot: undefined,
    };
    for (const d of streak) this.add(a, d);
    this.active = a;
    this.takeSnapshot(a);
    this.send(a, 'start', last.at);
  }

  private add(a: Active<F>, d: Detection<F>): void {
    a.frames++;
    a.lastSeenAt = d.at;
    a.boxes = d.boxes;
    for (const z of d.zones ?? []) a.zones.add(z);
    if (d.score > a.best.score) {
      a.best = { at: d.at, score: d.score, boxes: d.boxes, frame: d.capture?.() ?? a.best.frame };
    }
  }

  private end(a: Active<F>, endedAt: number): void {
    if (a.snapshotOf !== a.best.at) this.takeSnapshot(a);
    a.boxes = a.best.boxes;
    this.send(a, 'end', endedAt, endedAt);
    this.active = null;
  }

  private takeSnapshot(a: Active<F>): void {
    const frame = a.best.frame;
    if (!this.opts.snapshot || frame === undefined) return;
    const ref = this.opts.snapshot(a.id, a.snapshotCount, frame, a.best.boxes, a.best.at);
    if (!ref) return;
    a.snapshotCount++;
    a.snapshot = ref;
    a.snapshotOf = a.best.at;
  }

  private send(a: Active<F>, phase: EventMessage['phase'], at: number, endedAt?: number): void {
    a.lastEmitAt = at;
    const zones = [...a.zones];
    this.opts.emit({
      id: a.id,
      seq: a.seq++,
      type: this.opts.type,
      phase,
      cameraId: this.opts.cameraId,
      startedAt: iso(a.startedAt),
      at: iso(Math.max(at, a.startedAt)),
      ...(endedAt !== undefined ? { endedAt: iso(Math.max(endedAt, a.startedAt)) } : {}),
      boxes: a.boxes.slice(0, 32),
      score: Math.min(1, Math.max(0, a.best.score)),
      bestAt: iso(a.best.at),
      ...(zones.length ? { zones: zones.slice(0, 32) } : {}),
      frames: a.frames,
      ...(a.snapshot ? { snapshot: a.snapshot } : {}),
    });
  }
}
