'use client';

import type { LiveViewGrant } from '@cctv/protocol';
import { GrantKeeper } from '../playback/grant-keeper';
import { type LiveCallbacks, type LiveHandle, watchFrames } from './live-modes';

/**
 * Live HLS from the storage gateway: the camera's newest segments as recorded, and through
 * the gateway's H.264 rendition when this browser cannot decode what was recorded (H.265 in
 * most browsers without hardware support). hls.js keeps one segment behind the live edge.
 */
export function playLiveHls(
  video: HTMLVideoElement,
  grant: LiveViewGrant,
  cb: LiveCallbacks,
  /** A fresh grant for the same camera: the view outlives any one grant. */
  renew: () => Promise<LiveViewGrant>,
): LiveHandle {
  let stopped = false;
  let destroy = () => {};
  const fail = (reason: string) => {
    if (!stopped) cb.onFail(reason);
  };
  const unwatch = watchFrames(video, cb.onFrame);

  const play = (url: string, rendition: boolean) => {
    const keeper = new GrantKeeper(url, grant.expiresAt, async () => {
      const next = await renew();
      return { url: rendition ? next.hlsH264Url : next.hlsUrl, expiresAt: next.expiresAt };
    });
    import('hls.js')
      .then(({ default: Hls }) => {
        if (stopped) return;
        if (!Hls.isSupported()) {
          fail('this browser has no Media Source Extensions for HLS');
          return;
        }
        const hls = new Hls({
          // One segment from the live edge (2 s with the agents' defaults) rather than three:
          // live latency ≤ 6 s; playback speeds up a little to catch up after a stall.
          liveSyncDurationCount: 1,
          liveMaxLatencyDurationCount: 4,
          maxLiveSyncPlaybackRate: 1.2,
          manifestLoadingMaxRetry: 2,
          xhrSetup: keeper.xhrSetup,
        });
        hls.on(Hls.Events.ERROR, (_event, data) => {
          const codec =
            data.details === Hls.ErrorDetails.BUFFER_ADD_CODEC_ERROR ||
            data.details === Hls.ErrorDetails.BUFFER_INCOMPATIBLE_CODECS_ERROR ||
            data.details === Hls.ErrorDetails.MANIFEST_INCOMPATIBLE_CODECS_ERROR;
          if (codec && !rendition) {
            hls.destroy();
            play(grant.hlsH264Url, true);
            return;
          }
          if (!data.fatal) return;
          hls.destroy();
          fail(`HLS ${data.details}${data.response?.code ? ` (HTTP ${data.response.code})` : ''}`);
        });
        hls.loadSource(url);
        hls.attachMedia(video);
        void video.play().catch(() => {});
        destroy = () => hls.destroy();
      })
      .catch((err: unknown) => fail(`could not load hls.js: ${String(err)}`));
  };
  play(grant.hlsUrl, false);

  return {
    stop() {
      stopped = true;
      unwatch();
      destroy();
      video.removeAttribute('src');
      video.load();
    },
  };
}
