/**
 * One camera's low-latency live feed: the fMP4 stream its agent sends while someone watches
 * (a copy of the camera, never encoded again), cut into LL-HLS parts (one `moof`+`mdat` each)
 * and segments (parts from one keyframe to the next), the newest few seconds held in memory.
 * Nothing here is stored: recording goes on through the segment uploads as before.
 */
import { BoxSplitter, Fmp4Error, type InitInfo, parseMoof, parseMoov } from './fmp4.ts';

export interface LivePart {
  data: Buffer;
  /** Seconds. */
  duration: number;
  independent: boolean;
}

export interface LiveSegment {
  msn: number;
  /** Wall clock (ms) when its first part arrived. */
  startedAt: number;
  parts: LivePart[];
  duration: number;
  bytes: number;
  complete: boolean;
}

export interface LiveFeedLimits {
  /** Largest box accepted (a keyframe's `mdat` of a 4K stream is a few MB). */
  maxBoxBytes: number;
  /** Most bytes held (whole segments are dropped, oldest first, beyond it). */
  maxBytes: number;
  /** Seconds of complete segments kept behind the live edge. */
  windowS: number;
  /** A segment ends at the first keyframe after this many seconds. */
  minSegmentS: number;
  /** …or at this many without a keyframe, whatever comes. */
  maxSegmentS: number;
}

export type FeedEnd = 'idle' | 'replaced' | 'closed' | 'bad_stream' | 'stopped';

/**
 * A feed's segments are numbered from its start (ms × 100), as the recorded live playlists
 * number runs: a later feed of the camera continues with larger numbers.
 */
export class LiveFeed {
  readonly id: string;
  readonly firstMsn: number;
  init: Buffer | null = null;
  readonly segments: LiveSegment[] = [];
  /** Longest segment so far, in whole seconds (EXT-X-TARGETDURATION never shrinks). */
  targetDuration: number;
  ended: FeedEnd | null = null;
  lastReadAt: number;
  /** Parts taken since the start (dropped ones included). */
  partCount = 0;
  private readonly splitter: BoxSplitter;
  private ftyp: Buffer | null = null;
  private info: InitInfo | null = null;
  private pendingMoof: Buffer | null = null;
  private bytes = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly camera: string,
    readonly nodeId: string | null,
    /** The sender's part duration target (PART-TARGET), in seconds. */
    readonly partTargetS: number,
    private readonly limits: LiveFeedLimits,
    private readonly now: () => number = Date.now,
  ) {
    const start = now();
    this.id = start.toString(36);
    this.firstMsn = start * 100;
    this.lastReadAt = start;
    this.targetDuration = Math.ceil(limits.minSegmentS);
    this.splitter = new BoxSplitter(limits.maxBoxBytes);
  }

  /** Takes the next bytes of the stream; throws Fmp4Error when they are not fragmented MP4. */
  push(chunk: Buffer): void {
    let added = false;
    for (const box of this.splitter.push(chunk)) added = this.box(box.type, box.data) || added;
    if (added) this.wake();
  }

  end(reason: FeedEnd): void {
    if (this.ended) return;
    this.ended = reason;
    const last = this.segments.at(-1);
    if (last && last.parts.length > 0) last.complete = true;
    this.wake();
  }

  /** The newest segment (possibly still growing), or undefined before the first keyframe. */
  get last(): LiveSegment | undefined {
    return this.segments.at(-1);
  }

  segment(msn: number): LiveSegment | undefined {
    const first = this.segments[0];
    return first ? this.segments[msn - first.msn] : undefined;
  }

  /** Resolves at the next change (a part, the end), or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Waits until `ready()` holds, the feed ends, or `ms` pass; returns `ready()`. */
  async until(ready: () => boolean, ms: number): Promise<boolean> {
    const deadline = this.now() + ms;
    while (!ready() && !this.ended) {
      const left = deadline - this.now();
      if (left <= 0) break;
      await this.changed(left);
    }
    return ready();
  }

  get heldBytes(): number {
    return this.bytes;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Whether a part was added. */
  private box(type: string, data: Buffer): boolean {
    if (type === 'ftyp') {
      if (this.info) throw new Fmp4Error('a second init segment in one feed');
      this.ftyp = data;
      return false;
    }
    if (type === 'moov') {
      if (this.info) throw new Fmp4Error('a second init segment in one feed');
      this.info = parseMoov({ type, data });
      this.init = this.ftyp ? Buffer.concat([this.ftyp, data]) : data;
      return false;
    }
    if (type === 'moof') {
      if (!this.info) throw new Fmp4Error('a fragment before the init segment');
      if (this.pendingMoof) throw new Fmp4Error('a moof without its mdat');
      this.pendingMoof = data;
      return false;
    }
    if (type === 'mdat') {
      if (!this.info || !this.pendingMoof) throw new Fmp4Error('an mdat without its moof');
      const moof = this.pendingMoof;
      this.pendingMoof = null;
      const frag = parseMoof({ type: 'moof', data: moof }, this.info);
      return this.addPart({
        data: Buffer.concat([moof, data]),
        duration: frag.duration,
        independent: frag.independent,
      });
    }
    // styp, sidx, prft, free, mfra…: not needed by a player of parts.
    return false;
  }

  private addPart(part: LivePart): boolean {
    const { minSegmentS, maxSegmentS } = this.limits;
    let seg = this.segments.at(-1);
    if (!seg && !part.independent) return false; // a player must begin at a keyframe
    const cut =
      !seg || (part.independent && seg.duration >= minSegmentS) || seg.duration + part.duration > maxSegmentS;
    if (cut) {
      if (seg) {
        seg.complete = true;
        this.targetDuration = Math.max(this.targetDuration, Math.ceil(seg.duration - 0.001));
      }
      seg = {
        msn: seg ? seg.msn + 1 : this.firstMsn,
        startedAt: this.now(),
        parts: [],
        duration: 0,
        bytes: 0,
        complete: false,
      };
      this.segments.push(seg);
    }
    const current = seg as LiveSegment;
    current.parts.push(part);
    this.partCount++;
    current.duration += part.duration;
    current.bytes += part.data.length;
    this.bytes += part.data.length;
    this.targetDuration = Math.max(this.targetDuration, Math.ceil(current.duration - 0.001));
    this.trim();
    return true;
  }

  /** Drops the oldest complete segments past the window or the byte limit; keeps three. */
  private trim(): void {
    const complete = () => this.segments.filter((s) => s.complete);
    for (;;) {
      const done = complete();
      if (done.length <= 3) return;
      const behind = done.slice(1).reduce((n, s) => n + s.duration, 0);
      if (behind < this.limits.windowS && this.bytes <= this.limits.maxBytes) return;
      const dropped = this.segments.shift() as LiveSegment;
      this.bytes -= dropped.bytes;
    }
  }
}
