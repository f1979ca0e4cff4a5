/**
 * Plays a camera's recording from a wall-clock moment, and maps the video's position to wall
 * clock through the playlist's `EXT-X-PROGRAM-DATE-TIME` (hls.js keeps it per fragment), so
 * the timeline can draw its playhead and keep several cameras on the same moment.
 */
import type { PlaybackRequest } from '@cctv/protocol';
import type Hls from 'hls.js';
import type { Fragment } from 'hls.js';
import type { GrantKeeper } from '../playback/grant-keeper';
import { describeHlsError } from '../playback/playback';

/**
 * The gateway's playlist holds the segments that *start* in the range, so the grant begins a
 * little before the moment asked for (segments are 2–6 s) and the player seeks into it.
 */
export const GRANT_LEAD_MS = 10_000;
/** How far ahead of the moment one grant reaches (capped at now). */
export const GRANT_AHEAD_MS = 10 * 60_000;

export function grantRange(at: number, now: number): PlaybackRequest {
  const to = Math.min(at + GRANT_AHEAD_MS, now);
  const from = Math.min(at - GRANT_LEAD_MS, to - 1_000);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** The media position of wall-clock `at` among `frags`: inside one, else the next one's start. */
export function positionOf(frags: readonly Fragment[], at: number): number | null {
  for (const f of frags) {
    if (f.programDateTime === null) continue;
    const end = f.programDateTime + f.duration * 1000;
    if (at < f.programDateTime) return f.start;
    if (at < end) return f.start + (at - f.programDateTime) / 1000;
  }
  return null;
}

/** The wall clock of media position `t` among `frags`, or null outside them. */
export function wallClockOf(frags: readonly Fragment[], t: number): number | null {
  for (const f of frags) {
    if (f.programDateTime === null) continue;
    if (t >= f.start && t < f.start + f.duration) return f.programDateTime + (t - f.start) * 1000;
  }
  const last = frags.at(-1);
  // At the very end of the last fragment (playback finished).
  if (last?.programDateTime != null && Math.abs(t - (last.start + last.duration)) < 0.5)
    return last.programDateTime + last.duration * 1000;
  return null;
}

export interface TimelineHlsCallbacks {
  onError(message: string, cause: 'network' | 'decode'): void;
}

/** One hls.js instance on one video element, started at a wall-clock moment. */
export class TimelineHls {
  private hls: Hls | null = null;
  private frags: Fragment[] = [];
  private destroyed = false;

  constructor(
    readonly video: HTMLVideoElement,
    private readonly callbacks: TimelineHlsCallbacks,
  ) {}

  async start(url: string, at: number, keeper: GrantKeeper): Promise<void> {
    const { default: HlsClass } = await import('hls.js');
    if (this.destroyed) return;
    if (!HlsClass.isSupported()) {
      this.callbacks.onError(
        'this browser lacks Media Source Extensions, which the timeline needs',
        'decode',
      );
      return;
    }
    // Loading waits for the playlist, so the first fragment fetched is the one holding `at`.
    const hls = new HlsClass({ autoStartLoad: false, lowLatencyMode: false, xhrSetup: keeper.xhrSetup });
    this.hls = hls;
    let started = false;
    hls.on(HlsClass.Events.LEVEL_LOADED, (_e, data) => {
      this.frags = data.details.fragments;
      if (started) return;
      started = true;
      const pos = positionOf(this.frags, at);
      if (pos === null) {
        // The range holds only the lead before `at`: nothing was recorded from that moment on.
        this.callbacks.onError('no recording from this moment on', 'network');
        hls.destroy();
        this.hls = null;
        return;
      }
      hls.startLoad(pos);
      this.video.currentTime = pos;
      this.video.play().catch(() => {
        // Autoplay refused (not muted, no gesture): the controls stay for the user.
      });
    });
    hls.on(HlsClass.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      this.callbacks.onError(
        describeHlsError(data),
        data.type === HlsClass.ErrorTypes.NETWORK_ERROR ? 'network' : 'decode',
      );
      hls.destroy();
      this.hls = null;
    });
    hls.loadSource(url);
    hls.attachMedia(this.video);
  }

  /** Wall-clock ms of what is on screen, or null before the playlist is known. */
  wallClock(): number | null {
    const playing = this.hls?.playingDate;
    if (playing) return playing.getTime();
    return this.frags.length > 0 ? wallClockOf(this.frags, this.video.currentTime) : null;
  }

  /** Seeks to wall clock `at`; false when that moment is not in this recording. */
  seekWall(at: number): boolean {
    const first = this.frags[0];
    const last = this.frags.at(-1);
    if (!first?.programDateTime || !last?.programDateTime) return false;
    if (at < first.programDateTime || at >= last.programDateTime + last.duration * 1000) return false;
    const pos = positionOf(this.frags, at);
    if (pos === null) return false;
    this.video.currentTime = pos;
    return true;
  }

  destroy(): void {
    this.destroyed = true;
    this.hls?.destroy();
    this.hls = null;
    this.video.removeAttribute('src');
    this.video.load();
  }
}
