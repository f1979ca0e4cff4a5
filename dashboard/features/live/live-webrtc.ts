'use client';

import type { IceCandidate } from '@cctv/protocol';
import { type LiveCallbacks, type LiveHandle, watchFrames } from './live-modes';
import type { LiveSocket } from './live-socket';

/** How long ICE may stay disconnected before the view counts as failed. */
const DISCONNECTED_GRACE_MS = 4000;

/**
 * A live view shows each frame as soon as it is decoded: the receiver's jitter buffer is told
 * to hold nothing beyond what the network's jitter needs (`jitterBufferTarget`, and the older
 * `playoutDelayHint` of Chromium), where the browser supports either. On loopback or a LAN this
 * is most of the browser's share of the glass-to-glass time.
 */
function playOutAtOnce(receiver: RTCRtpReceiver): void {
  const r = receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null; playoutDelayHint?: number };
  try {
    if ('jitterBufferTarget' in r) r.jitterBufferTarget = 0;
    if ('playoutDelayHint' in r) r.playoutDelayHint = 0;
  } catch {
    // An older browser refusing the value: its default buffering stays.
  }
}

/**
 * Live WebRTC from the camera's agent: a receive-only offer through the master's live socket,
 * the agent's answer (with its candidates), this browser's candidates trickled after it. A
 * `control` data channel hears the agent end the view (camera restarted, agent stopping).
 */
export function playWebrtc(
  video: HTMLVideoElement,
  socket: LiveSocket,
  cameraId: string,
  cb: LiveCallbacks,
): LiveHandle {
  if (typeof RTCPeerConnection === 'undefined') {
    cb.onFail('this browser has no WebRTC');
    return { stop() {} };
  }
  let stopped = false;
  let session: string | null = null;
  let disconnectTimer: ReturnType<typeof setTimeout> | undefined;
  const queued: IceCandidate[] = [];
  const pc = new RTCPeerConnection({ iceServers: socket.iceServers });
  const fail = (reason: string) => {
    if (!stopped) cb.onFail(reason);
  };

  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const control = pc.createDataChannel('control');
  control.onmessage = (ev) => {
    try {
      const msg = JSON.parse(String(ev.data)) as { type?: string; reason?: string };
      if (msg.type === 'ended') fail(`the agent ended the view: ${msg.reason ?? 'no reason given'}`);
    } catch {
      // Not ours to understand; the frame watchdog still guards the view.
    }
  };
  const stream = new MediaStream();
  pc.ontrack = (ev) => {
    playOutAtOnce(ev.receiver);
    if (ev.track.kind === 'video')
      ev.track.addEventListener('unmute', () => performance.mark('cctv-live:webrtc:media'), { once: true });
    stream.addTrack(ev.track);
    if (video.srcObject !== stream) video.srcObject = stream;
    void video.play().catch(() => {});
  };
  pc.onicecandidate = (ev) => {
    if (!ev.candidate?.candidate) return;
    const c = ev.candidate.toJSON() as IceCandidate;
    if (session) socket.send({ type: 'candidates', session, candidates: [c] });
    else queued.push(c);
  };
  pc.onconnectionstatechange = () => {
    clearTimeout(disconnectTimer);
    if (pc.connectionState === 'connected') performance.mark('cctv-live:webrtc:connected');
    if (pc.connectionState === 'failed')
      fail('no connection to the agent (ICE failed: is the camera host reachable, or is TURN configured?)');
    else if (pc.connectionState === 'disconnected')
      disconnectTimer = setTimeout(() => fail('the connection to the agent dropped'), DISCONNECTED_GRACE_MS);
  };
  const unwatch = watchFrames(video, cb.onFrame);

  (async () => {
    await pc.setLocalDescription(await pc.createOffer());
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error('no offer');
    performance.mark('cctv-live:webrtc:offer');
    const answer = await socket.request<'answer'>({ type: 'offer', camera: cameraId, sdp });
    if (stopped) {
      socket.send({ type: 'close', session: answer.session });
      return;
    }
    session = answer.session;
    performance.mark('cctv-live:webrtc:answer');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    const candidates = queued.splice(0, 64);
    if (candidates.length > 0) socket.send({ type: 'candidates', session, candidates });
  })().catch((err: Error & { code?: string }) =>
    fail(err.code ? `${err.code}: ${err.message}` : String(err)),
  );

  return {
    stop() {
      stopped = true;
      clearTimeout(disconnectTimer);
      unwatch();
      if (session) socket.send({ type: 'close', session });
      pc.close();
      video.srcObject = null;
    },
  };
}
