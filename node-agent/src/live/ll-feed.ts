/**
 * One camera's low-latency feed for live HLS: a second ffmpeg reads the camera (its substream
 * when it has one) and copies its video, as it comes, into fragmented MP4 of a part each
 * (`-frag_duration`, a new fragment at every keyframe), streamed in one long `PUT` to the
 * gateway, which cuts it into LL-HLS parts. Started when the master grants someone a live
 * view, it runs until the gateway answers the upload (nobody watched for a while, a newer
 * feed, the gateway stopping) or ffmpeg ends. Recording is not touched.
 */
import http from 'node:http';
import https from 'node:https';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { gatewayPaths, LIVE_PART_TARGET_HEADER } from '@cctv/protocol/gateway-routes';
import type { Logger } from 'pino';
import { SupervisedChild } from '../process/supervised-child.ts';
import { type LivePlan, type LiveStreams, LiveUnsupportedError } from './live-plan.ts';

/** Where feeds go: the gateway uploads go to now, with the node's credentials. */
export interface FeedTarget {
  url: string;
  nodeId: string;
  token?: string;
  ca?: Buffer;
}

export interface LowLatencyFeedOptions {
  cameraId: string;
  plan: LivePlan;
  streams: () => Promise<LiveStreams>;
  /** Encode a source that is neither H.264 nor H.265 (a test pattern); else no feed. */
  transcode: boolean;
  transcodeMaxWidth: number;
  /** LL-HLS PART-TARGET, in ms: fragments are cut at 80 % of it, on the next frame. */
  partTargetMs: number;
  stallAfterMs: number;
  target: FeedTarget;
  logger: Logger;
  /** The feed ended by itself (the gateway answered, ffmpeg ended, the upload failed). */
  onEnded: (reason: string) => void;
}

/** What the gateway holds in flight for one feed before it is called too slow. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;

/** ffmpeg's arguments after the input: the video as fragmented MP4 on stdout. */
export function feedOutputArgs(
  codec: string,
  opts: { transcode: boolean; maxWidth: number; partTargetMs: number },
) {
  let video: string[];
  if (codec === 'h264') video = ['-c:v', 'copy'];
  else if (codec === 'hevc') video = ['-c:v', 'copy', '-tag:v', 'hvc1'];
  else if (opts.transcode)
    video = [
      ...['-vf', `scale='min(${opts.maxWidth},iw)':-2,format=yuv420p`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline'],
      ...['-g', '25', '-bf', '0'],
    ];
  else
    throw new LiveUnsupportedError(
      `the source sends ${codec}, neither H.264 nor H.265, and live.transcode is off`,
    );
  return [
    ...['-map', '0:v:0', '-an', ...video],
    ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
    ...['-frag_duration', String(Math.round(opts.partTargetMs * 800)), '-flush_packets', '1', 'pipe:1'],
  ];
}

export class LowLatencyFeed {
  private child: SupervisedChild | null = null;
  private request: http.ClientRequest | null = null;
  private started: Promise<void> | null = null;
  private done = false;
  bytes = 0;

  constructor(private readonly opts: LowLatencyFeedOptions) {}

  get isEnded(): boolean {
    return this.done;
  }

  /** Starts ffmpeg and the upload; rejects with LiveUnsupportedError for a source it cannot send. */
  start(): Promise<void> {
    this.started ??= this.startNow();
    return this.started;
  }

  async stop(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.request?.destroy();
    await this.child?.stop();
  }

  private end(reason: string): void {
    if (this.done) return;
    this.opts.logger.info({ reason, bytes: this.bytes }, 'live feed ended');
    void this.stop();
    this.opts.onEnded(reason);
  }

  private async startNow(): Promise<void> {
    const { plan, target, logger } = this.opts;
    const streams = await this.opts.streams();
    const output = feedOutputArgs(streams.video, {
      transcode: this.opts.transcode,
      maxWidth: this.opts.transcodeMaxWidth,
      partTargetMs: this.opts.partTargetMs,
    });
    if (this.done) return;
    const url = new URL(gatewayPaths.livePartsUpload(this.opts.cameraId), target.url);
    const secure = url.protocol === 'https:';
    const req = (secure ? https.request : http.request)(url, {
      ...(secure && target.ca ? { ca: target.ca } : {}),
      method: 'PUT',
      headers: {
        'content-type': 'video/mp4',
        [SEGMENT_HEADERS.node]: target.nodeId,
        [LIVE_PART_TARGET_HEADER]: String(this.opts.partTargetMs),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
    });
    this.request = req;
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 2048) body += c;
      });
      res.on('end', () => this.end(`the gateway ended it: ${res.statusCode} ${body.slice(0, 300)}`));
      res.on('error', () => this.end(`the gateway ended it: ${res.statusCode}`));
    });
    req.on('error', (err) => this.end(`upload failed: ${err.message}`));
    // The gateway learns of the feed now, not at its first part: a player may be waiting.
    req.flushHeaders();
    const child = new SupervisedChild({
      name: 'live feed',
      logger,
      quitKey: 'q',
      graceMs: 500,
      killAfterMs: 2000,
      stallAfterMs: this.opts.stallAfterMs,
      prepare: () => ({
        command: 'ffmpeg',
        args: ['-hide_banner', '-nostats', '-loglevel', 'warning', ...plan.input, ...output],
      }),
      onOutput: (fd, chunk) => {
        if (fd !== 1 || this.done) return;
        child.alive();
        this.bytes += chunk.length;
        req.write(chunk);
        if (req.writableLength > MAX_UNSENT_BYTES)
          this.end('the gateway takes the feed slower than it comes');
      },
      onExit: (exit) => {
        if (exit.expected) return;
        req.end();
        this.end(`live source ended: ${exit.detail}`);
      },
    });
    this.child = child;
    child.start();
    logger.info({ source: plan.label, codec: streams.video, gateway: target.url }, 'live feed started');
  }
}
