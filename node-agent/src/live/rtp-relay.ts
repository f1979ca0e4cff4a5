/**
 * One camera's live relay: a single ffmpeg reads the camera and sends its video (and audio)
 * as RTP to two UDP sockets of the agent on 127.0.0.1; every packet goes to each subscriber
 * (a WebRTC session). Started by the first viewer, stopped `lingerMs` after the last one
 * leaves; when ffmpeg ends by itself (camera gone, stalled) the relay ends and tells its
 * owner, who tears down that camera's sessions.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { SupervisedChild } from '../process/supervised-child.ts';
import { KeyframeCache } from './keyframe-cache.ts';
import { type LivePlan, type LiveStreams, LiveUnsupportedError, relayOutputArgs } from './live-plan.ts';

export interface RelaySubscriber {
  video(packet: Buffer): void;
  audio(packet: Buffer): void;
}

export interface RtpRelayOptions {
  cameraId: string;
  plan: LivePlan;
  /** The source's streams: known, or probed once per relay start. */
  streams: () => Promise<LiveStreams>;
  /** Encode sources that are not H.264 (else they have no WebRTC view). */
  transcode: boolean;
  transcodeMaxWidth: number;
  lingerMs: number;
  /** No packet for this long ends the relay (the camera went silent). */
  stallAfterMs: number;
  logger: Logger;
  /** The relay ended by itself (not by stop()); `reason` for the viewers. */
  onEnded: (reason: string) => void;
}

/** RTCP (payload types 200–204) shares the RTP port; the peer connections make their own. */
const isRtcp = (packet: Buffer) => packet.length >= 2 && (packet[1] ?? 0) >= 200 && (packet[1] ?? 0) <= 204;

export class RtpRelay {
  private readonly subscribers = new Set<RelaySubscriber>();
  private readonly keyframes = new KeyframeCache();
  private videoSocket: Socket | null = null;
  private audioSocket: Socket | null = null;
  private child: SupervisedChild | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private started: Promise<void> | null = null;
  private ended = false;
  private stopped = false;
  /** RTP packets received this run. */
  packets = 0;
  /** What this run sends, once started. */
  streams: LiveStreams | null = null;
  mode: 'copy' | 'transcode' | null = null;

  constructor(private readonly opts: RtpRelayOptions) {}

  get viewers(): number {
    return this.subscribers.size;
  }

  get isEnded(): boolean {
    return this.ended || this.stopped;
  }

  /** Starts the relay if needed; rejects with LiveUnsupportedError when it cannot send this source. */
  start(): Promise<void> {
    this.started ??= this.startNow();
    return this.started;
  }

  subscribe(sub: RelaySubscriber): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.subscribers.add(sub);
  }

  unsubscribe(sub: RelaySubscriber): void {
    if (!this.subscribers.delete(sub) || this.subscribers.size > 0 || this.isEnded) return;
    this.lingerTimer = setTimeout(() => void this.stop(), this.opts.lingerMs);
    this.lingerTimer.unref();
  }

  /** The video packets since the newest keyframe, for a viewer that just connected. */
  currentGop(): readonly Buffer[] {
    return this.keyframes.snapshot();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.subscribers.clear();
    await this.child?.stop();
    for (const s of [this.videoSocket, this.audioSocket]) s?.close();
    this.videoSocket = this.audioSocket = null;
  }

  private async startNow(): Promise<void> {
    const { plan, logger } = this.opts;
    const streams = await this.opts.streams();
    const encode = streams.video !== 'h264';
    if (encode && !this.opts.transcode)
      throw new LiveUnsupportedError(
        `${this.opts.cameraId} sends ${streams.video}, not H.264, and live.transcode is off`,
      );
    this.streams = streams;
    this.mode = encode ? 'transcode' : 'copy';
    if (this.stopped) return;
    this.videoSocket = await bindSocket((p) => this.forward(p, 'video'));
    this.audioSocket = streams.audio ? await bindSocket((p) => this.forward(p, 'audio')) : null;
    const args = [
      '-hide_banner',
      '-nostats',
      '-loglevel',
      'warning',
      ...plan.input,
      ...relayOutputArgs({
        videoPort: this.videoSocket.address().port,
        audioPort: this.audioSocket?.address().port ?? null,
        encode,
        maxWidth: this.opts.transcodeMaxWidth,
      }),
    ];
    const child = new SupervisedChild({
      name: 'live relay',
      logger,
      quitKey: 'q',
      graceMs: 500,
      killAfterMs: 2000,
      stallAfterMs: this.opts.stallAfterMs,
      prepare: () => ({ command: 'ffmpeg', args }),
      onExit: (exit) => {
        if (exit.expected) return;
        void this.stop();
        this.ended = true;
        this.opts.onEnded(`live source ended: ${exit.detail}`);
      },
    });
    this.child = child;
    child.start();
    logger.info({ source: plan.label, mode: this.mode, audio: streams.audio }, 'live relay started');
  }

  private forward(packet: Buffer, kind: 'video' | 'audio'): void {
    if (isRtcp(packet)) return;
    this.packets++;
    this.child?.alive();
    if (kind === 'video') this.keyframes.add(packet);
    for (const sub of this.subscribers) sub[kind](packet);
  }
}

function bindSocket(onPacket: (packet: Buffer) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.on('message', onPacket);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      // A keyframe of a 1080p substream arrives as a burst of hundreds of packets.
      try {
        socket.setRecvBufferSize(4 * 1024 * 1024);
      } catch {
        // The kernel's limit (net.core.rmem_max) stays; only bursts above it are lost.
      }
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}
