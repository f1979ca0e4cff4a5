'use client';

import type { LiveCallbacks, LiveHandle } from './live-modes';
import type { LiveSocket } from './live-socket';

interface JsmpegPlayer {
  destroy(): void;
}

/**
 * The low-bandwidth fallback: MPEG-1 over a websocket straight from the agent (node-rtsp-stream's
 * muxer), decoded in JavaScript onto a canvas. Plays where neither WebRTC nor MSE does. The
 * master issues a single-use ticket for the agent's socket; a dropped socket is not reopened
 * here (the ticket is spent): the player asks for a new one.
 */
export function playJsmpeg(
  box: HTMLElement,
  socket: LiveSocket,
  cameraId: string,
  cb: LiveCallbacks,
): LiveHandle {
  let stopped = false;
  // A canvas per run: destroying a player loses its WebGL context for good.
  const canvas = document.createElement('canvas');
  canvas.className = 'video';
  canvas.dataset.testid = 'live-canvas';
  box.replaceChildren(canvas);
  let player: JsmpegPlayer | null = null;
  (async () => {
    const [{ url }, mod] = await Promise.all([
      socket.request<'jsmpeg'>({ type: 'jsmpeg', camera: cameraId }),
      import('@cycjimmy/jsmpeg-player'),
    ]);
    if (stopped) return;
    player = new mod.default.Player(url, {
      canvas,
      autoplay: true,
      audio: false,
      reconnectInterval: 0,
      // Show each picture as soon as it is decoded: no added latency.
      videoBufferSize: 512 * 1024,
      onVideoDecode: () => cb.onFrame(),
    });
  })().catch((err: Error & { code?: string }) => {
    if (!stopped) cb.onFail(err.code ? `${err.code}: ${err.message}` : String(err));
  });
  return {
    stop() {
      stopped = true;
      player?.destroy();
      player = null;
      canvas.remove();
    },
  };
}
