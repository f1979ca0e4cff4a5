/**
 * A granted recording on a video element: hls.js (Media Source Extensions) first, since it
 * reports why a stream fails; native HLS only where MSE is missing (iPhone Safari). Recent
 * Chromium also claims native HLS but then reports every failure, network or codec, as an
 * opaque demuxer error.
 */
import type { PlaybackRequest } from '@cctv/protocol';
import type { Fragment } from 'hls.js';
import type { Dispatch, SetStateAction } from 'react';
import type { GrantKeeper } from './grant-keeper';
import {
  describeHlsError,
  describeMediaError,
  HLS_MIME,
  openRecording,
  type PlaybackCause,
  type PlaybackStatus,
} from './playback';

export interface RecordingPlayback {
  cameraId: string;
  range: PlaybackRequest;
  setStatus: Dispatch<SetStateAction<PlaybackStatus>>;
  /** The playlist about to play. */
  onUrl?(url: string): void;
  /** hls.js: the playlist's fragments, each time it loads or updates them. */
  onFragments?(fragments: readonly Fragment[]): void;
  /** Native HLS: the video's metadata is in. */
  onNativeMetadata?(): void;
}

/** Asks for the grant and plays it on `video`, keeping the status; returns the way to stop. */
export function playRecording(video: HTMLVideoElement, playback: RecordingPlayback): () => void {
  const { setStatus, onFragments, onNativeMetadata } = playback;
  setStatus({ kind: 'loading' });
  let cancelled = false;
  const grantRequest = new AbortController();
  let destroy = () => {};
  // hls.js explains a failure better than the media element, so its text wins when both report.
  let hlsReported = false;
  const fail = (message: string, cause: PlaybackCause = 'decode') => {
    if (!cancelled) setStatus({ kind: 'error', message, cause });
  };
  const onVideoError = () => {
    if (!hlsReported) fail(describeMediaError(video));
  };
  const onReady = () => {
    if (!cancelled) setStatus((s) => (s.kind === 'error' ? s : { kind: 'ready' }));
  };
  video.addEventListener('error', onVideoError);
  video.addEventListener('loadeddata', onReady);

  const playNative = (url: string) => {
    if (!video.canPlayType(HLS_MIME)) {
      fail('this browser has neither Media Source Extensions nor native HLS');
      return;
    }
    if (onNativeMetadata) video.addEventListener('loadedmetadata', onNativeMetadata);
    video.src = url;
    destroy = () => {
      if (onNativeMetadata) video.removeEventListener('loadedmetadata', onNativeMetadata);
      video.removeAttribute('src');
      video.load();
    };
  };

  const play = (url: string, keeper: GrantKeeper) => {
    playback.onUrl?.(url);
    import('hls.js')
      .then(({ default: Hls }) => {
        if (cancelled) return;
        if (!Hls.isSupported()) {
          playNative(url);
          return;
        }
        const hls = new Hls({ lowLatencyMode: false, xhrSetup: keeper.xhrSetup });
        if (onFragments) {
          // hls.js keeps these fragment objects and corrects their start once parsed.
          const take = (_e: unknown, data: { details: { fragments: Fragment[] } }) =>
            onFragments(data.details.fragments);
          hls.on(Hls.Events.LEVEL_LOADED, take);
          hls.on(Hls.Events.LEVEL_UPDATED, take);
        }
        hls.on(Hls.Events.ERROR, (_e, data) => {
          if (!data.fatal) return;
          hlsReported = true;
          fail(describeHlsError(data), data.type === Hls.ErrorTypes.NETWORK_ERROR ? 'network' : 'decode');
          hls.destroy();
        });
        hls.loadSource(url);
        hls.attachMedia(video);
        destroy = () => hls.destroy();
      })
      .catch((err: unknown) => fail(`could not load the player: ${String(err)}`));
  };

  openRecording(playback.cameraId, playback.range, grantRequest.signal, {
    cancelled: () => cancelled,
    play,
    fail,
  });

  return () => {
    cancelled = true;
    grantRequest.abort();
    video.removeEventListener('error', onVideoError);
    video.removeEventListener('loadeddata', onReady);
    destroy();
  };
}
