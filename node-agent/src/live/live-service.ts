/**
 * Live view on the agent: WebRTC sessions fed by one relay per camera, the jsmpeg fallback,
 * and the limits that keep an edge host recording whatever the viewers do. The master
 * relays the signalling as commands (`webrtc-offer`, `webrtc-candidates`, `webrtc-close`,
 * `jsmpeg-open`) and asks for live HLS feeds (`live-hls-open`); a camera that restarts or
 * leaves ends its viewers, who reconnect.
 */
import {
  COMMAND_ERRORS,
  type JsmpegOpenResult,
  LIVE_COMMANDS,
  LIVE_ERRORS,
  type LiveHeartbeat,
  type LiveHlsOpenResult,
  type Validator,
  validators,
  type WebrtcOfferResult,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import type { CommandHandler } from '../link/command-dispatch.ts';
import type { JsmpegServer } from './jsmpeg-server.ts';
import type { LivePlan, LiveStreams } from './live-plan.ts';
import { probeLiveStreams } from './live-probe.ts';
import { type FeedTarget, LowLatencyFeed } from './ll-feed.ts';
import { RtpRelay } from './rtp-relay.ts';
import type { PeerSettings, WebrtcSession } from './webrtc-session.ts';

export interface LiveLimits {
  maxViewersPerCamera: number;
  maxSessions: number;
  lingerMs: number;
  /** A session not connected within this long is ended (the browser never came). */
  connectTimeoutMs: number;
  transcode: boolean;
  transcodeMaxWidth: number;
  stallAfterMs: number;
}

export interface LiveServiceOptions {
  limits: LiveLimits;
  peer: PeerSettings;
  /** The camera's live plan; null when the agent has no such camera. Throws LiveUnsupportedError. */
  planFor: (cameraId: string) => LivePlan | null;
  jsmpeg: JsmpegServer | null;
  /** `ws://host:port` the browsers reach the jsmpeg server at. */
  jsmpegPublicUrl: () => string;
  logger: Logger;
  onSessions?: (cameraId: string, sessions: number) => void;
  /** A live request refused, by error code (LIVE_LIMIT, LIVE_UNSUPPORTED, …). */
  onRefused?: (code: string) => void;
  /** Where low-latency live HLS feeds go; null or absent: the feature is off. */
  feedTarget?: () => FeedTarget | null;
  /** LL-HLS part target of the feeds, in ms. */
  partTargetMs?: number;
  onFeeds?: (running: number) => void;
}

const codedError = (code: string, message: string) => Object.assign(new Error(message), { code });

function argsOf<T>(validator: Validator<T>, args: Record<string, unknown>): T {
  const parsed = validator.validate(args);
  if (!parsed.ok) throw codedError(COMMAND_ERRORS.badRequest, parsed.error);
  return parsed.value;
}

let webrtc: Promise<typeof import('./webrtc-session.ts')> | null = null;
const loadWebrtc = () => {
  webrtc ??= import('./webrtc-session.ts');
  return webrtc;
};

export class LiveService {
  private readonly relays = new Map<string, RtpRelay>();
  private readonly sessions = new Map<string, WebrtcSession>();
  private readonly feeds = new Map<string, LowLatencyFeed>();
  /** Probed streams per camera and plan, so only a camera's first viewer waits for the probe. */
  private readonly probed = new Map<string, { key: string; streams: Promise<LiveStreams> }>();

  constructor(private readonly opts: LiveServiceOptions) {}

  /** Command handlers, by name, for the MQTT link. */
  commands(): Record<string, CommandHandler> {
    const counted =
      <T>(run: (args: Record<string, unknown>) => Promise<T>): CommandHandler =>
      async (args) => {
        try {
          return (await run(args)) as object;
        } catch (err) {
          this.opts.onRefused?.((err as { code?: string }).code ?? COMMAND_ERRORS.failed);
          throw err;
        }
      };
    return {
      [LIVE_COMMANDS.offer]: counted((args) => this.offer(args)),
      [LIVE_COMMANDS.candidates]: counted((args) => this.candidates(args)),
      [LIVE_COMMANDS.close]: counted((args) => this.close(args)),
      [LIVE_COMMANDS.jsmpeg]: counted((args) => this.openJsmpeg(args)),
      [LIVE_COMMANDS.hls]: counted((args) => this.openHls(args)),
    };
  }

  /**
   * For the heartbeat. WebRTC opens nothing at start (each session binds its own ICE ports, and
   * a session that cannot is refused on its own), so it is ok whenever live view is on.
   */
  status(): LiveHeartbeat {
    const jsmpeg = this.opts.jsmpeg?.status();
    if (!jsmpeg) return { jsmpeg: 'disabled', webrtc: 'ok' };
    if (jsmpeg.listening) return { jsmpeg: 'ok', webrtc: 'ok' };
    return { jsmpeg: 'unavailable', webrtc: 'ok', reason: `jsmpeg: ${jsmpeg.reason}` };
  }

  sessionCount(cameraId?: string): number {
    if (!cameraId) return this.sessions.size;
    let n = 0;
    for (const s of this.sessions.values()) if (s.cameraId === cameraId) n++;
    return n;
  }

  /**
   * Learns the streams of cameras that (re)started, in the background, so their first live
   * viewer does not wait for a probe.
   */
  prepare(cameraIds: string[]): void {
    for (const id of cameraIds) {
      let plan: LivePlan | null;
      try {
        plan = this.opts.planFor(id);
      } catch {
        continue; // no live view for this source; the offer says why
      }
      if (plan) this.streams(id, plan).catch(() => {});
    }
  }

  /** The cameras restarted or left: their viewers are ended (they reconnect) and relays stopped. */
  camerasRestarted(cameraIds: string[], reason: string): void {
    for (const id of cameraIds) {
      this.probed.delete(id);
      this.endCamera(id, reason);
      this.opts.jsmpeg?.endCamera(id, reason);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'agent stopping')));
    await Promise.all([...this.relays.values()].map((r) => r.stop()));
    this.relays.clear();
    await Promise.all([...this.feeds.values()].map((f) => f.stop()));
    this.feeds.clear();
  }

  /** Cameras whose low-latency feed is being sent. */
  feedCount(): number {
    return this.feeds.size;
  }

  private async offer(raw: Record<string, unknown>): Promise<WebrtcOfferResult> {
    const args = argsOf(validators.webrtcOfferArgs, raw);
    // werift (WebRTC, with its crypto and codec packages) is loaded by the first viewer, not at
    // start: ~20 MB resident that a node nobody watches live never needs. Awaited before the
    // limit checks below, which must stay in one synchronous run.
    const { WebrtcSession } = await loadWebrtc();
    const { limits } = this.opts;
    const log = this.opts.logger.child({ cameraId: args.camera, session: args.session });
    if (this.sessions.has(args.session))
      throw codedError(COMMAND_ERRORS.badRequest, `session ${args.session} exists already`);
    if (this.sessions.size >= limits.maxSessions)
      throw codedError(LIVE_ERRORS.limit, `this node serves at most ${limits.maxSessions} live sessions`);
    if (this.sessionCount(args.camera) >= limits.maxViewersPerCamera)
      throw codedError(
        LIVE_ERRORS.limit,
        `camera ${args.camera} has its ${limits.maxViewersPerCamera} live viewers already`,
      );
    // Counted from here on, so offers arriving together cannot pass the limits together.
    const session = new WebrtcSession(
      args.session,
      args.camera,
      this.opts.peer,
      (why) => {
        log.info({ why }, 'live session gone');
        void this.end(session, why);
      },
      () => this.relays.get(args.camera)?.currentGop() ?? [],
    );
    this.sessions.set(session.id, session);
    this.counted(args.camera);
    let relay: RtpRelay;
    try {
      relay = await this.relay(args.camera);
    } catch (err) {
      await this.end(session, 'no live source');
      throw err;
    }
    if (this.sessions.get(session.id) !== session)
      throw codedError(LIVE_ERRORS.unknownSession, 'the session ended while its source started');
    relay.subscribe(session);
    try {
      const sdp = await session.answer(args.sdp, this.opts.peer.gatherTimeoutMs);
      setTimeout(() => {
        if (session.state === 'new') void this.end(session, 'the browser never connected');
      }, limits.connectTimeoutMs).unref();
      log.info({ user: args.user, mode: relay.mode }, 'live session answered');
      return { session: session.id, sdp };
    } catch (err) {
      await this.end(session, 'offer refused');
      throw codedError((err as { code?: string }).code ?? 'BAD_OFFER', (err as Error).message);
    }
  }

  private async candidates(raw: Record<string, unknown>): Promise<Record<string, never>> {
    const args = argsOf(validators.webrtcCandidatesArgs, raw);
    const session = this.sessions.get(args.session);
    if (!session) throw codedError(LIVE_ERRORS.unknownSession, `no live session ${args.session}`);
    session.addCandidates(args.candidates, (err) =>
      this.opts.logger.debug({ session: session.id, err: err.message }, 'browser candidate not added'),
    );
    return {};
  }

  private async close(raw: Record<string, unknown>): Promise<{ closed: boolean }> {
    const args = argsOf(validators.webrtcCloseArgs, raw);
    const session = this.sessions.get(args.session);
    if (!session) return { closed: false };
    await this.end(session, 'the viewer left');
    return { closed: true };
  }

  private async openJsmpeg(raw: Record<string, unknown>): Promise<JsmpegOpenResult> {
    const args = argsOf(validators.jsmpegOpenArgs, raw);
    const jsmpeg = this.opts.jsmpeg;
    if (!jsmpeg) throw codedError(LIVE_ERRORS.unsupported, 'the jsmpeg fallback is off on this node');
    const plan = this.opts.planFor(args.camera);
    if (!plan) throw codedError(LIVE_ERRORS.unknownCamera, `no camera ${args.camera} on this node`);
    const { path, ticket, expiresAt } = await jsmpeg.open(args.camera);
    const url = new URL(path, this.opts.jsmpegPublicUrl());
    url.searchParams.set('ticket', ticket);
    return { url: url.toString(), expiresAt };
  }

  /**
   * Starts the camera's low-latency feed to the gateway (live HLS), or keeps the running one:
   * the gateway ends it when nobody has watched for a while.
   */
  private async openHls(raw: Record<string, unknown>): Promise<LiveHlsOpenResult> {
    const args = argsOf(validators.liveHlsOpenArgs, raw);
    const target = this.opts.feedTarget?.() ?? null;
    if (!target) throw codedError(LIVE_ERRORS.unsupported, 'low-latency live HLS is off on this node');
    const running = this.feeds.get(args.camera);
    if (running && !running.isEnded) {
      await running.start();
      return { feed: 'running' };
    }
    const plan = this.opts.planFor(args.camera);
    if (!plan) throw codedError(LIVE_ERRORS.unknownCamera, `no camera ${args.camera} on this node`);
    const { limits } = this.opts;
    if (this.feeds.size >= limits.maxSessions)
      throw codedError(LIVE_ERRORS.limit, `this node sends at most ${limits.maxSessions} live feeds`);
    const feed: LowLatencyFeed = new LowLatencyFeed({
      cameraId: args.camera,
      plan,
      streams: () => this.streams(args.camera, plan),
      transcode: limits.transcode,
      transcodeMaxWidth: limits.transcodeMaxWidth,
      partTargetMs: this.opts.partTargetMs ?? 300,
      stallAfterMs: limits.stallAfterMs,
      target,
      logger: this.opts.logger.child({ cameraId: args.camera, part: 'live-feed' }),
      onEnded: () => this.dropFeed(args.camera, feed),
    });
    this.feeds.set(args.camera, feed);
    this.opts.onFeeds?.(this.feeds.size);
    try {
      await feed.start();
    } catch (err) {
      this.dropFeed(args.camera, feed);
      await feed.stop();
      throw err;
    }
    return { feed: 'started' };
  }

  private dropFeed(cameraId: string, feed: LowLatencyFeed): void {
    if (this.feeds.get(cameraId) !== feed) return;
    this.feeds.delete(cameraId);
    this.opts.onFeeds?.(this.feeds.size);
  }

  /** The camera's running relay, started if needed. */
  private async relay(cameraId: string): Promise<RtpRelay> {
    const existing = this.relays.get(cameraId);
    if (existing && !existing.isEnded) {
      await existing.start();
      return existing;
    }
    const plan = this.opts.planFor(cameraId);
    if (!plan) throw codedError(LIVE_ERRORS.unknownCamera, `no camera ${cameraId} on this node`);
    const { limits } = this.opts;
    const relay: RtpRelay = new RtpRelay({
      cameraId,
      plan,
      streams: () => this.streams(cameraId, plan),
      transcode: limits.transcode,
      transcodeMaxWidth: limits.transcodeMaxWidth,
      lingerMs: limits.lingerMs,
      stallAfterMs: limits.stallAfterMs,
      logger: this.opts.logger.child({ cameraId, part: 'live' }),
      onEnded: (reason) => {
        if (this.relays.get(cameraId) === relay) this.relays.delete(cameraId);
        this.probed.delete(cameraId);
        this.endCamera(cameraId, reason);
      },
    });
    this.relays.set(cameraId, relay);
    try {
      await relay.start();
    } catch (err) {
      this.relays.delete(cameraId);
      await relay.stop();
      throw err;
    }
    return relay;
  }

  private streams(cameraId: string, plan: LivePlan): Promise<LiveStreams> {
    if (plan.streams) return Promise.resolve(plan.streams);
    const key = plan.probe?.join('\0') ?? '';
    const known = this.probed.get(cameraId);
    if (known?.key === key) return known.streams;
    const streams = probeLiveStreams(plan.probe ?? plan.input, 10_000);
    this.probed.set(cameraId, { key, streams });
    streams.catch(() => this.probed.delete(cameraId));
    return streams;
  }

  private endCamera(cameraId: string, reason: string): void {
    for (const s of [...this.sessions.values()]) if (s.cameraId === cameraId) void this.end(s, reason);
    const relay = this.relays.get(cameraId);
    this.relays.delete(cameraId);
    void relay?.stop();
    const feed = this.feeds.get(cameraId);
    if (feed) {
      this.dropFeed(cameraId, feed);
      void feed.stop();
    }
  }

  private async end(session: WebrtcSession, reason: string): Promise<void> {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.relays.get(session.cameraId)?.unsubscribe(session);
    this.counted(session.cameraId);
    this.opts.logger.info({ cameraId: session.cameraId, session: session.id, reason }, 'live session ended');
    await session.close(reason);
  }

  private counted(cameraId: string): void {
    this.opts.onSessions?.(cameraId, this.sessionCount(cameraId));
  }
}
