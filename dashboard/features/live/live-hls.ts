'use client';

import type { LiveViewGrant } from '@cctv/protocol';
import { GrantKeeper } from '../playback/grant-keeper';
import { type LiveCallbacks, type LiveHandle, watchFrames } from './live-modes';

/** Which of the grant's playlists is playing. */
type Source = 'low-latency' | 'recorded' | 'rendition';

/**
 * Live HLS from the storage gateway. First low-latency HLS (`llHlsUrl`, when the node sends
 * its feed): parts of a fraction of a second, hls.js in low-latency mode about a second
 * behind the camera. Without it, or when it fails, the camera's newest segments as recorded,
 * one segment behind the live edge, and through the gateway's H.264 rendition when this
 * browser cannot decode what was recorded (H.265 in most browsers without hardware support).
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

  const play = (url: string, source: Source) => {
    // Any URL of the renewed grant does: only its grant is taken.
    const keeper = new GrantKeeper(url, grant.expiresAt, async () => {
      const next = await renew();
      return { url: next.hlsUrl, expiresAt: next.expiresAt };
    });
    const lowLatency = source === 'low-latency';
    // For the page's tests and the latency bench: which playlist plays.
    video.dataset.hlsSource = source;
    import('hls.js')
      .then(({ default: Hls }) => {
        if (stopped) return;
        if (!Hls.isSupported()) {
          fail('this browser has no Media Source Extensions for HLS');
          return;
        }
        const hls = new Hls(
          lowLatency
            ? {
                // The playlist's PART-HOLD-BACK (three parts) from the live edge; blocking
                // reloads bring each part as it comes.
                lowLatencyMode: true,
                maxLiveSyncPlaybackRate: 1.5,
                backBufferLength: 10,
                manifestLoadingMaxRetry: 1,
                xhrSetup: keeper.xhrSetup,
              }
            : {
                // One segment from the live edge (2 s with the agents' defaults) rather than
                // three: live latency ≤ 6 s; playback speeds up a little after a stall.
                liveSyncDurationCount: 1,
                liveMaxLatencyDurationCount: 4,
                maxLiveSyncPlaybackRate: 1.2,
                manifestLoadingMaxRetry: 2,
                xhrSetup: keeper.xhrSetup,
              },
        );
        hls.on(Hls.Events.ERROR, (_event, data) => {
          const codec =
            data.details === Hls.ErrorDetails.BUFFER_ADD_CODEC_ERROR ||
            data.details === Hls.ErrorDetails.BUFFER_INCOMPATIBLE_CODECS_ERROR ||
            data.details === Hls.ErrorDetails.MANIFEST_INCOMPATIBLE_CODECS_ERROR;
          if (codec && source !== 'rendition') {
            hls.destroy();
            play(lowLatency ? grant.hlsUrl : grant.hlsH264Url, lowLatency ? 'recorded' : 'rendition');
            return;
          }
          if (!data.fatal) return;
          hls.destroy();
          if (lowLatency) {
            // The feed stopped or never came (another gateway, an older node): as recorded.
            play(grant.hlsUrl, 'recorded');
            return;
          }
          fail(`HLS ${data.details}${data.response?.code ? ` (HTTP ${data.response.code})` : ''}`);
        });
        hls.loadSource(url);
        hls.attachMedia(video);
        void video.play().catch(() => {});
        destroy = () => hls.destroy();
      })
      .catch((err: unknown) => fail(`could not load hls.js: ${String(err)}`));
  };
  if (grant.llHlsUrl) play(grant.llHlsUrl, 'low-latency');
  else play(grant.hlsUrl, 'recorded');

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
