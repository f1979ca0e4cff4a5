import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIVE_MODE_NAMES, LIVE_MODES, watchFrames } from '../features/live/live-modes.ts';

describe('live modes', () => {
  it('tries WebRTC, then HLS, then jsmpeg, each with a name to show', () => {
    assert.deepEqual(LIVE_MODES, ['webrtc', 'hls', 'jsmpeg']);
    assert.deepEqual(
      LIVE_MODES.map((m) => LIVE_MODE_NAMES[m]),
      ['WebRTC', 'HLS', 'jsmpeg'],
    );
  });
});

describe('watchFrames', () => {
  it('counts each frame the browser presents until stopped', () => {
    let pending: (() => void) | null = null;
    let asked = 0;
    const video = {
      requestVideoFrameCallback(cb: () => void) {
        asked += 1;
        pending = cb;
        return asked;
      },
    };
    const present = () => {
      const cb = pending;
      pending = null;
      cb?.();
    };
    let frames = 0;
    const stop = watchFrames(video as unknown as HTMLVideoElement, () => {
      frames += 1;
    });
    assert.equal(asked, 1);
    present();
    present();
    present();
    assert.equal(frames, 3);
    stop();
    present();
    assert.equal(frames, 3, 'no frame after stop');
    assert.equal(asked, 4, 'and no further request');
  });

  it('falls back to time updates where the browser cannot report frames', () => {
    const video = new EventTarget();
    let frames = 0;
    const stop = watchFrames(video as unknown as HTMLVideoElement, () => {
      frames += 1;
    });
    video.dispatchEvent(new Event('timeupdate'));
    video.dispatchEvent(new Event('timeupdate'));
    video.dispatchEvent(new Event('progress'));
    assert.equal(frames, 2);
    stop();
    video.dispatchEvent(new Event('timeupdate'));
    assert.equal(frames, 2, 'the listener is removed');
  });
});
