/**
 * The low-latency live feeds of this gateway, one per camera at most, and their LL-HLS
 * playlists (Apple's HLS 2nd edition: `EXT-X-PART`, `EXT-X-PRELOAD-HINT`, blocking reloads
 * with `_HLS_msn` / `_HLS_part`). A feed nobody has read for `idleMs` is ended, which answers
 * the agent's upload and stops its ffmpeg: a camera is copied here only while it is watched.
 */
import { type FeedEnd, LiveFeed, type LiveFeedLimits, type LiveSegment } from './live-feed.ts';

export interface LiveFeedsOptions {
  limits: LiveFeedLimits;
  /** A feed nobody reads for this long ends. */
  idleMs: number;
  onOpened?: (feed: LiveFeed) => void;
  onEnded?: (feed: LiveFeed, reason: FeedEnd) => void;
  now?: () => number;
}

/** `ll/<feed>/…`, relative to `live/<camera>/ll.m3u8`. */
export const llUri = {
  init: (feed: LiveFeed) => `ll/${feed.id}/init.mp4`,
  part: (feed: LiveFeed, msn: number, part: number) => `ll/${feed.id}/${msn}.${part}.m4s`,
  segment: (feed: LiveFeed, msn: number) => `ll/${feed.id}/${msn}.m4s`,
};

/** A part or segment file name below `ll/<feed>/`. */
export function parseLlFile(
  file: string,
): { kind: 'init' } | { kind: 'part'; msn: number; part: number } | { kind: 'segment'; msn: number } | null {
  if (file === 'init.mp4') return { kind: 'init' };
  const m = /^(\d{1,16})(?:\.(\d{1,4}))?\.m4s$/.exec(file);
  if (!m) return null;
  const msn = Number(m[1]);
  if (!Number.isSafeInteger(msn)) return null;
  return m[2] === undefined ? { kind: 'segment', msn } : { kind: 'part', msn, part: Number(m[2]) };
}

/** Segments whose parts are listed: the growing one and the two before it. */
const PARTS_LISTED_FOR = 3;

export class LiveFeeds {
  private readonly feeds = new Map<string, LiveFeed>();
  private readonly opening = new Map<string, Set<() => void>>();
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: LiveFeedsOptions) {
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, opts.idleMs));
    this.sweeper.unref();
  }

  /** A new feed for `camera`; one already there is ended (`replaced`). */
  open(camera: string, nodeId: string | null, partTargetS: number): LiveFeed {
    const old = this.feeds.get(camera);
    if (old) this.end(old, 'replaced');
    const feed = new LiveFeed(camera, nodeId, partTargetS, this.opts.limits, this.now);
    this.feeds.set(camera, feed);
    this.opts.onOpened?.(feed);
    for (const wake of this.opening.get(camera) ?? []) wake();
    return feed;
  }

  /**
   * The camera's feed, waiting up to `ms` for one to open: a player sent here as its node is
   * asked to start sending may be a moment early.
   */
  async opened(camera: string, ms: number): Promise<LiveFeed | undefined> {
    const now = this.read(camera);
    if (now || ms <= 0) return now;
    await new Promise<void>((resolve) => {
      const waiting = this.opening.get(camera) ?? new Set();
      this.opening.set(camera, waiting);
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        if (waiting.size === 0) this.opening.delete(camera);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiting.add(done);
    });
    return this.read(camera);
  }

  end(feed: LiveFeed, reason: FeedEnd): void {
    if (feed.ended) return;
    feed.end(reason);
    if (this.feeds.get(feed.camera) === feed) this.feeds.delete(feed.camera);
    this.opts.onEnded?.(feed, reason);
  }

  /** The camera's running feed, marked as read now. */
  read(camera: string): LiveFeed | undefined {
    const feed = this.feeds.get(camera);
    if (feed) feed.lastReadAt = this.now();
    return feed;
  }

  get size(): number {
    return this.feeds.size;
  }

  heldBytes(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.heldBytes;
    return n;
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const feed of [...this.feeds.values()]) this.end(feed, 'stopped');
  }

  private sweep(): void {
    const now = this.now();
    for (const feed of [...this.feeds.values()])
      if (now - feed.lastReadAt > this.opts.idleMs) this.end(feed, 'idle');
  }

  /** Seconds a blocking request is held at most before the playlist is sent as it is. */
  holdMs(feed: LiveFeed): number {
    return Math.max(3 * feed.targetDuration, 6 * feed.partTargetS) * 1000;
  }

  /**
   * Whether the feed's playlist holds what a blocking reload asks for: segment `msn` complete,
   * or with `part` (0-based) its part `part`; a later segment holds both.
   */
  static has(feed: LiveFeed, msn: number, part: number | undefined): boolean {
    const last = feed.last;
    if (!last) return false;
    if (last.msn > msn) return true;
    if (last.msn < msn) return false;
    return part === undefined ? last.complete : last.parts.length > part;
  }

  /** The LL-HLS media playlist of the feed (its first keyframe must have arrived). */
  playlist(feed: LiveFeed, notBefore: number): string {
    const segments = feed.segments.filter((s) => s.startedAt >= notBefore || s === feed.last);
    const first = segments[0] as LiveSegment;
    const partTarget = feed.partTargetS;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      `#EXT-X-TARGETDURATION:${feed.targetDuration}`,
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * partTarget).toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${partTarget.toFixed(3)}`,
      `#EXT-X-MEDIA-SEQUENCE:${first.msn}`,
      `#EXT-X-MAP:URI="${llUri.init(feed)}"`,
    ];
    const withParts = segments.slice(-PARTS_LISTED_FOR);
    for (const seg of segments) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.startedAt).toISOString()}`);
      if (withParts.includes(seg))
        seg.parts.forEach((p, i) => {
          lines.push(
            `#EXT-X-PART:DURATION=${p.duration.toFixed(3)},URI="${llUri.part(feed, seg.msn, i)}"${p.independent ? ',INDEPENDENT=YES' : ''}`,
          );
        });
      if (seg.complete) {
        lines.push(`#EXTINF:${seg.duration.toFixed(3)},`);
        lines.push(llUri.segment(feed, seg.msn));
      }
    }
    const last = feed.last as LiveSegment;
    if (!feed.ended)
      lines.push(
        `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${
          last.complete ? llUri.part(feed, last.msn + 1, 0) : llUri.part(feed, last.msn, last.parts.length)
        }"`,
      );
    lines.push('');
    return lines.join('\n');
  }
}
