/**
 * Live view's parts as the config sets them up: the jsmpeg fallback server (listening in the
 * background) and the WebRTC session service, each null when disabled.
 */
import type { Logger } from 'pino';
import type { AgentConfig } from '../config.ts';
import type { LiveMetrics } from '../metrics/live-metrics.ts';
import { JsmpegServer } from './jsmpeg-server.ts';
import type { LivePlan } from './live-plan.ts';
import { LiveService } from './live-service.ts';
import type { FeedTarget } from './ll-feed.ts';
import { publicWsUrl } from './public-url.ts';

export interface LiveParts {
  jsmpeg: JsmpegServer | null;
  live: LiveService | null;
}

export function startLive(
  config: AgentConfig,
  deps: {
    planFor: (cameraId: string) => LivePlan | null;
    metrics: LiveMetrics;
    logger: Logger;
    /** The gateway uploads go to now, with the node's credentials: where live HLS feeds go. */
    feedTarget: () => FeedTarget;
  },
): LiveParts {
  const { planFor, metrics, logger: log } = deps;
  const liveConfig = config.live;
  // tls.cert/tls.key: the jsmpeg server's own certificate (wss://)
  const jsmpegTls =
    config.tls?.cert && config.tls.key ? { certFile: config.tls.cert, keyFile: config.tls.key } : undefined;
  const jsmpeg =
    liveConfig.enabled && liveConfig.jsmpeg.enabled
      ? new JsmpegServer({
          host: liveConfig.jsmpeg.host,
          port: liveConfig.jsmpeg.port,
          tls: jsmpegTls,
          logger: log.child({ part: 'jsmpeg' }),
          inputFor: async (cameraId) => planFor(cameraId)?.jsmpeg ?? null,
          bitrateKbps: liveConfig.jsmpeg.bitrateKbps,
          maxWidth: liveConfig.jsmpeg.maxWidth,
          fps: liveConfig.jsmpeg.fps,
          maxViewersPerCamera: liveConfig.maxViewersPerCamera,
          ticketTtlMs: liveConfig.jsmpeg.ticketTtlS * 1000,
          lingerMs: 0,
          backoff: { initialMs: liveConfig.jsmpeg.retryInitialMs, maxMs: liveConfig.jsmpeg.retryMaxMs },
          onViewers: (camera, n) => metrics.viewers(camera, 'jsmpeg', n),
          onRefused: (reason) => metrics.refused(reason),
          onStatus: (status) => metrics.available('jsmpeg', status.listening),
          onListenFailed: () => metrics.listenFailed('jsmpeg'),
        })
      : null;
  if (liveConfig.enabled) metrics.available('webrtc', true);
  if (jsmpeg) metrics.listens('jsmpeg');
  // Not awaited, and never rejecting: a live-view port that cannot be opened (in use, not
  // allowed) must not keep the recorder from starting. The server retries in the background
  // and reports itself unavailable meanwhile (log, metric, heartbeat).
  void jsmpeg?.start();
  const live = liveConfig.enabled
    ? new LiveService({
        limits: {
          maxViewersPerCamera: liveConfig.maxViewersPerCamera,
          maxSessions: liveConfig.maxSessions,
          lingerMs: liveConfig.lingerS * 1000,
          connectTimeoutMs: liveConfig.connectTimeoutS * 1000,
          transcode: liveConfig.transcode,
          transcodeMaxWidth: liveConfig.transcodeMaxWidth,
          stallAfterMs: config.recorder.stallTimeoutS * 1000,
        },
        peer: {
          iceServers: liveConfig.iceServers,
          ...(liveConfig.icePortMin && liveConfig.icePortMax
            ? { icePortRange: [liveConfig.icePortMin, liveConfig.icePortMax] as [number, number] }
            : {}),
          additionalHostAddresses: liveConfig.additionalHostAddresses,
          useIpv6: liveConfig.useIpv6,
          gatherTimeoutMs: liveConfig.gatherTimeoutMs,
        },
        planFor,
        jsmpeg,
        // The bound port, read when a ticket is given out: configured 0, it is known only then.
        jsmpegPublicUrl: () =>
          liveConfig.jsmpeg.publicUrl ?? publicWsUrl(jsmpeg?.port ?? 0, jsmpegTls !== undefined),
        logger: log.child({ part: 'live' }),
        onSessions: (camera, n) => metrics.viewers(camera, 'webrtc', n),
        onRefused: (reason) => metrics.refused(reason),
        ...(liveConfig.hls.enabled
          ? { feedTarget: deps.feedTarget, partTargetMs: liveConfig.hls.partTargetMs }
          : {}),
        onFeeds: (n) => metrics.feeds(n),
      })
    : null;
  return { jsmpeg, live };
}
