/**
 * One viewer's WebRTC peer (werift): answers the browser's receive-only offer with a video
 * track (H.264) and an audio track (Opus) fed from the camera's relay, gathers its candidates
 * before answering (the answer carries them all), and takes the browser's trickled ones after.
 * A `control` data channel, when the browser opens one, hears why the agent ends the session.
 */
import type { IceCandidate, IceServer } from '@cctv/protocol';
import {
  MediaStreamTrack,
  type RTCDataChannel,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  useNACK,
  usePLI,
} from 'werift';
import type { RelaySubscriber } from './rtp-relay.ts';

export interface PeerSettings {
  iceServers: IceServer[];
  /** UDP ports for ICE, for a firewall that opens a range. */
  icePortRange?: [number, number];
  /** Extra host addresses to offer (a NAT's public address, loopback for local tests). */
  additionalHostAddresses?: string[];
  useIpv6: boolean;
  /** How long to wait for STUN/TURN candidates before answering with what there is. */
  gatherTimeoutMs: number;
}

const H264 = new RTCRtpCodecParameters({
  mimeType: 'video/H264',
  clockRate: 90_000,
  rtcpFeedback: [useNACK(), usePLI()],
  parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
});
const OPUS = new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 });

export type SessionState = 'new' | 'connected' | 'ended';

export class WebrtcSession implements RelaySubscriber {
  private readonly pc: RTCPeerConnection;
  private readonly videoTrack = new MediaStreamTrack({ kind: 'video' });
  private readonly audioTrack = new MediaStreamTrack({ kind: 'audio' });
  private control: RTCDataChannel | null = null;
  state: SessionState = 'new';
  readonly createdAt = Date.now();
  connectedAt: number | null = null;

  constructor(
    readonly id: string,
    readonly cameraId: string,
    settings: PeerSettings,
    /** The peer failed or closed on its own (ICE failure, the browser went away). */
    private readonly onGone: (why: string) => void,
    /** On connecting: the packets of the camera's current GOP, sent first so decoding starts at once. */
    private readonly currentGop: () => readonly Buffer[] = () => [],
  ) {
    this.pc = new RTCPeerConnection({
      iceServers: settings.iceServers.map((s) => ({
        urls: Array.isArray(s.urls) ? (s.urls[0] ?? '') : s.urls,
        ...(s.username !== undefined ? { username: s.username } : {}),
        ...(s.credential !== undefined ? { credential: s.credential } : {}),
      })),
      codecs: { video: [H264], audio: [OPUS] },
      iceUseIpv4: true,
      iceUseIpv6: settings.useIpv6,
      ...(settings.icePortRange ? { icePortRange: settings.icePortRange } : {}),
      ...(settings.additionalHostAddresses?.length
        ? { iceAdditionalHostAddresses: settings.additionalHostAddresses }
        : {}),
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && this.state === 'new') {
        this.state = 'connected';
        this.connectedAt = Date.now();
        for (const packet of this.currentGop()) this.videoTrack.writeRtp(packet);
      } else if ((state === 'failed' || state === 'closed') && this.state !== 'ended') {
        this.onGone(state === 'failed' ? 'ICE or DTLS failed' : 'closed by the browser');
      }
    });
    this.pc.onDataChannel.subscribe((channel) => {
      if (channel.label === 'control') this.control = channel;
    });
  }

  /** Takes the browser's offer and returns the answer with every gathered candidate. */
  async answer(offerSdp: string, gatherTimeoutMs: number): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    let sending = 0;
    for (const t of this.pc.getTransceivers()) {
      const track = t.kind === 'video' ? this.videoTrack : t.kind === 'audio' ? this.audioTrack : null;
      if (!track) continue;
      t.setDirection('sendonly');
      await t.sender.replaceTrack(track);
      if (t.kind === 'video') sending++;
    }
    if (sending === 0) throw Object.assign(new Error('the offer asks for no video'), { code: 'BAD_OFFER' });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, gatherTimeoutMs);
      this.pc.iceGatheringStateChange.subscribe((s) => {
        if (s !== 'complete') return;
        clearTimeout(timer);
        resolve();
      });
    });
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('no local description');
    return sdp;
  }

  /**
   * Adds the browser's candidates without waiting for them: an mDNS (`.local`) one may take
   * seconds to resolve or never resolve; the browser's checks reach the agent meanwhile as
   * peer-reflexive candidates anyway.
   */
  addCandidates(candidates: IceCandidate[], onError: (err: Error) => void): void {
    for (const c of candidates) {
      // An empty candidate marks the end of the browser's candidates.
      if (!c.candidate) continue;
      this.pc
        .addIceCandidate({
          candidate: c.candidate,
          ...(c.sdpMid != null ? { sdpMid: c.sdpMid } : {}),
          ...(c.sdpMLineIndex != null ? { sdpMLineIndex: c.sdpMLineIndex } : {}),
        })
        .catch(onError);
    }
  }

  video(packet: Buffer): void {
    if (this.state === 'connected') this.videoTrack.writeRtp(packet);
  }

  audio(packet: Buffer): void {
    if (this.state === 'connected') this.audioTrack.writeRtp(packet);
  }

  /** Tells the browser why (on the control channel, when open), then closes the peer. */
  async close(reason: string): Promise<void> {
    if (this.state === 'ended') return;
    this.state = 'ended';
    try {
      if (this.control?.readyState === 'open') {
        this.control.send(JSON.stringify({ type: 'ended', reason }));
        // Let the message leave before the association closes under it.
        await new Promise((r) => setTimeout(r, 100));
      }
    } catch {
      // The channel closed meanwhile; the peer closes anyway.
    }
    await this.pc.close().catch(() => {});
  }
}
