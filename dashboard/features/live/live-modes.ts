'use client';

/** What a live mode reports to the player while it runs. */
export interface LiveCallbacks {
  /** A frame was shown (or decoded, for jsmpeg). */
  onFrame(): void;
  /** The mode cannot play (or stopped playing); the player retries or falls back. */
  onFail(reason: string): void;
}

export interface LiveHandle {
  stop(): void;
}

export type LiveMode = 'webrtc' | 'hls' | 'jsmpeg';
export const LIVE_MODES: readonly LiveMode[] = ['webrtc', 'hls', 'jsmpeg'];
export const LIVE_MODE_NAMES: Record<LiveMode, string> = {
  webrtc: 'WebRTC',
  hls: 'HLS',
  jsmpeg: 'jsmpeg',
};

/** Counts frames the video element shows, where the browser can say (requestVideoFrameCallback). */
export function watchFrames(video: HTMLVideoElement, onFrame: () => void): () => void {
  let stopped = false;
  if ('requestVideoFrameCallback' in video) {
    const tick = () => {
      if (stopped) return;
      onFrame();
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  } else {
    const v = video as HTMLVideoElement;
    const onTime = () => onFrame();
    v.addEventListener('timeupdate', onTime);
    return () => {
      stopped = true;
      v.removeEventListener('timeupdate', onTime);
    };
  }
  return () => {
    stopped = true;
  };
}
