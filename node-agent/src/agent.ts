/**
 * The node agent's parts, built and started in the order below and stopped in reverse (see
 * `stop()` for the two exceptions). Each part gets only what it reads and reports upward by
 * callbacks. The MQTT link starts last: its hello and heartbeats read every other part (the
 * cameras reach it through `LinkPort` meanwhile). Longer than 300 lines, it stays one file:
 * it is that list in start order, and pieces of it elsewhere would hide the order.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { CAMERA_MOVED_COMMAND } from '@cctv/protocol';
import { publicMetricsWarning } from '@cctv/tls/metrics-access';
import { readCaFile } from '@cctv/tls/server-tls';
import { registerCertificateExpiry } from '@cctv/tls/service-metrics';
import type { FaceDetector } from '@cctv/vision/faces';
import type { Logger } from 'pino';
import { analysisFactory } from './analysis/analysis-factory.ts';
import { SnapshotStore } from './analysis/snapshot-store.ts';
import { cameraPlannerFactory } from './cameras/camera-definitions.ts';
import { CameraList } from './cameras/camera-list.ts';
import { cameraMovedCommand } from './cameras/camera-moved.ts';
import { CameraSet } from './cameras/camera-set.ts';
import { configCommand } from './cameras/config-command.ts';
import { probeCommand } from './cameras/probe-command.ts';
import { RemoteCameras } from './cameras/remote-cameras.ts';
import { ClockSync } from './clock/clock-sync.ts';
import { type AgentConfig, cleartextWarnings, gatewayUrls, managementOf } from './config.ts';
import { ffmpegInfo, findFont, probeVideo } from './host/ffmpeg-info.ts';
import { HostSampler } from './host/host-sampler.ts';
import { diskSpace } from './host/system-stats.ts';
import { type CameraFigures, heartbeatBuilder } from './link/heartbeat.ts';
import { buildHello } from './link/hello.ts';
import { LinkPort } from './link/link-port.ts';
import { MqttLink } from './link/mqtt-link.ts';
import { restartCommand } from './link/restart-command.ts';
import { startLive } from './live/live-parts.ts';
import { livePlanner } from './live/plan-for.ts';
import { AnalysisMetrics } from './metrics/analysis-metrics.ts';
import { ClockGauge } from './metrics/clock-gauge.ts';
import { LiveMetrics } from './metrics/live-metrics.ts';
import { AgentMetrics, startMetricsServer } from './metrics/metrics.ts';
import type { ExitCause } from './process/supervised-child.ts';
import { Recorder } from './recorder/recorder.ts';
import { TransportMemory } from './recorder/transport-memory.ts';
import { SpoolQuota } from './spool/quota.ts';
import { SpoolUsage } from './spool/usage.ts';
import { StartedParts } from './started-parts.ts';
import { GatewayPool } from './uploader/gateway-pool.ts';
import { Uploader } from './uploader/uploader.ts';
import { AGENT_VERSION } from './version.ts';

const DEFAULT_FACE_MODEL = new URL('../models/blazeface-back-256.onnx', import.meta.url).pathname;

const restartReason = (cause: ExitCause) =>
  cause === 'stall' ? 'stall' : cause === 'prepare-failed' ? 'unreachable' : 'exit';

export interface AgentOptions {
  logger: Logger;
  /** The config file (named in what a file-managed node says when it refuses a pushed list). */
  configPath?: string;
  /** `cmd/restart`: stop and exit for the supervisor to start the agent again (main.ts). */
  restart?: () => Promise<void>;
}

export interface RunningAgent {
  /** The camera list (SIGHUP reloads it: cameras/config-reload.ts). */
  cameras: CameraList;
  /** The bound `/metrics` port; null without `httpPort`. */
  metricsPort: number | null;
  /** The bound jsmpeg port; null while it is not listening (or disabled). */
  jsmpegPort(): number | null;
  /** Publishes the offline status, stops every part in reverse order, disconnects. */
  stop(): Promise<void>;
}

/**
 * Builds and starts the agent's parts in order; `stop()` stops them in reverse. Should a part
 * fail to start, those already started are stopped (in reverse) before the error is thrown.
 */
export async function startAgent(
  config: AgentConfig,
  { logger: log, configPath, restart }: AgentOptions,
): Promise<RunningAgent> {
  const started = new StartedParts(log);
  try {
    return await startParts(config, log, started, configPath, restart);
  } catch (err) {
    log.error({ err }, 'agent not started: stopping the parts already running');
    await started.stopAll();
    throw err;
  }
}

async function startParts(
  config: AgentConfig,
  log: Logger,
  started: StartedParts,
  configPath: string | undefined,
  restart: AgentOptions['restart'],
): Promise<RunningAgent> {
  const spoolDir = resolve(config.spool.dir);
  const stateDir = resolve(config.stateDir);
  const gatewayList = gatewayUrls(config).map(([, url]) => url);
  log.info(
    { agentVersion: AGENT_VERSION, spoolDir, stateDir, gateways: gatewayList, mqtt: config.mqtt.url },
    'agent starting',
  );
  for (const warning of cleartextWarnings(config)) log.warn(warning);
  // tls.ca: the only CA the broker's and the gateway's certificates may chain to (a pin)
  const ca = config.tls?.ca ? readCaFile(config.tls.ca, 'tls.ca') : undefined;

  // metrics: counters now; the gauges once the cameras and the uploader they read exist
  const metrics = new AgentMetrics();
  registerCertificateExpiry(metrics.registry, { live: config.tls?.cert });

  // gateways: the one uploads go to, failing over in order; shared by segments and snapshots
  const gateways = new GatewayPool({
    urls: gatewayList,
    coolDownMs: config.gateway.retryPrimaryS * 1000,
    logger: log.child({ part: 'gateways' }),
    onSwitch: (_from, _to, why) => {
      if (why === 'failover') metrics.gatewayFailover();
    },
  });
  const gatewayAccess = {
    gateways,
    ...(config.gateway.token ? { gatewayToken: config.gateway.token } : {}),
    ...(ca ? { gatewayCa: ca } : {}),
    nodeId: config.nodeId,
  };

  // host: ffmpeg version and hardware encoders, for hello and the codec policy
  const ffmpeg = await ffmpegInfo();
  log.info({ ffmpeg: ffmpeg.version, hwEncoders: ffmpeg.hwEncoders }, 'ffmpeg found');
  const memory = new TransportMemory(stateDir, (err) => log.warn({ err }, 'transport memory not saved'));
  await memory.load();
  const font = await findFont();

  // uploader: resumes the spool backlog (also of cameras no longer configured), then sends
  const uploader = new Uploader({
    ...gatewayAccess,
    spoolDir,
    cameraIds: [],
    logger: log.child({ part: 'uploader' }),
    onUploaded: (s) => metrics.segmentUploaded(s.cameraId),
    onFailed: (s, _reason, willRetry) => metrics.uploadFailed(s.cameraId, willRetry),
  });
  await uploader.start();
  started.add('uploader', () => uploader.stop());

  // spool usage: segments the uploader knows, plus a full folder scan at most every 30 s
  const spoolUsage = new SpoolUsage(spoolDir, () => uploader.all().reduce((a, q) => a + q.diskBytes(), 0));
  const host = new HostSampler({ spoolDir, spoolUsedBytes: () => spoolUsage.bytes() });

  // spool quota: uploaded segments make room first; un-uploaded ones only as a last resort
  const quota = new SpoolQuota({
    quotaBytes: config.spool.quotaBytes,
    minFreeBytes: config.spool.minFreeBytes,
    cameras: () => uploader.all(),
    usedBytes: () => spoolUsage.bytes(),
    freeBytes: async () => (await diskSpace(spoolDir)).freeBytes,
    logger: log.child({ part: 'spool' }),
    onDropped: (s) => metrics.segmentDropped(s.cameraId, 'quota'),
  });
  const enforceQuota = () =>
    void quota.enforce().catch((err) => log.error({ err }, 'spool quota check failed'));
  const quotaTimer = setInterval(enforceQuota, 10_000);
  started.add('spool quota', () => clearInterval(quotaTimer));
  enforceQuota();

  // detection: the face model (shared by every camera) and the snapshot uploads
  const analysisMetrics = new AnalysisMetrics(metrics.registry);
  const faceModel = resolve(config.detection.faceModel ?? DEFAULT_FACE_MODEL);
  // Loaded when the first camera with face detection starts (onnxruntime costs memory). It
  // keeps faces down to the lowest score any use asks for (privacy blur: 0.3); each camera's
  // events then apply its own minScore.
  let facesLoading: Promise<FaceDetector | null> | null = null;
  const loadFaces = () => {
    facesLoading ??= import('@cctv/vision/faces')
      .then(({ FaceDetector }) =>
        FaceDetector.create({ modelPath: faceModel, threads: config.detection.faceThreads, minScore: 0.3 }),
      )
      .catch((err: Error) => {
        log.error({ faceModel, err: err.message }, 'face model not loaded: motion detection only');
        return null;
      });
    return facesLoading;
  };
  started.add('face model', async () => (await facesLoading)?.close());
  const snapshots = new SnapshotStore({
    ...gatewayAccess,
    dir: resolve(stateDir, 'snapshots'),
    logger: log.child({ part: 'snapshots' }),
    thumbnailWidth: config.detection.thumbnailWidth,
    maxPendingBytes: config.detection.snapshotPendingBytes,
    onStored: () => analysisMetrics.snapshot('stored'),
    onFailed: (_camera, reason) => analysisMetrics.snapshot(reason),
  });
  await snapshots.start();
  started.add('snapshots', () => snapshots.stop());

  // cameras: one planner + supervised recorder (+ analysis) per camera, changeable at run time;
  // their hello refreshes and events reach the link (started last) through the port
  const linkPort = new LinkPort();
  const cameraSet = new CameraSet({
    makePlanner: cameraPlannerFactory(config, { ffmpeg, memory, font }),
    makeRecorder: (planner) =>
      new Recorder({
        planner,
        spoolDir,
        segmentSeconds: config.segmentSeconds,
        logger: log.child({ cameraId: planner.id }),
        backoff: { initialMs: config.recorder.backoffInitialMs, maxMs: config.recorder.backoffMaxMs },
        failedAfterS: config.recorder.failedAfterS,
        failedRetryMs: config.recorder.failedRetryMs,
        stallTimeoutS: config.recorder.stallTimeoutS,
        handoffS: config.recorder.handoffS,
        onSegment: (segment) => {
          metrics.segmentRecorded(segment.cameraId);
          uploader.enqueue(segment);
          enforceQuota();
        },
        onRestart: (cause) => metrics.ffmpegRestarted(planner.id, restartReason(cause)),
        onState: () => linkPort.republishHello(),
      }),
    makeAnalysis: analysisFactory(config, {
      probe: (input, timeoutMs) => probeVideo(input, timeoutMs),
      memory,
      faces: loadFaces,
      snapshots,
      publish: (topic, payload) => linkPort.publishQueued(topic, payload),
      logger: log,
      onFrame: (camera, ms) => analysisMetrics.frame(camera, ms),
      onInference: (_camera, ms) => analysisMetrics.inference(ms),
      onEvent: (message) => analysisMetrics.event(message),
      onExit: (camera, exit) => {
        if (!exit.expected) analysisMetrics.restarted(camera, restartReason(exit.cause));
      },
    }),
    prepareCamera: async (id) => {
      await uploader.ensureCamera(id);
    },
    logger: log.child({ part: 'cameras' }),
  });
  started.add('cameras', () => cameraSet.stop());
  // what heartbeats and the gauges report of each camera
  const figures = (): CameraFigures[] =>
    cameraSet.recorders().map((r) => ({
      ...r.status(),
      backlog: uploader.backlog(r.cameraId),
      droppedSegments: uploader.dropped(r.cameraId),
    }));
  metrics.observe(figures, host);

  // live: WebRTC sessions fed by one relay per camera, and the jsmpeg fallback
  const { jsmpeg, live } = startLive(config, {
    planFor: livePlanner({
      definition: (cameraId) => cameraSet.definition(cameraId),
      font,
      readTimeoutS: config.recorder.stallTimeoutS,
      rememberedTransport: (id, url) => memory.get(id, url) ?? undefined,
    }),
    metrics: new LiveMetrics(metrics.registry),
    logger: log,
    feedTarget: () => ({
      url: gateways.current,
      nodeId: config.nodeId,
      ...(config.gateway.token ? { token: config.gateway.token } : {}),
      ...(ca ? { ca } : {}),
    }),
  });
  started.add('jsmpeg', () => jsmpeg?.stop());
  started.add('live', () => live?.stop());

  // camera list: from the file, or as cmd/config last set it; a restarted camera ends its live viewers
  const cameraList = new CameraList({
    config,
    mode: managementOf(config),
    ...(configPath ? { configPath } : {}),
    set: cameraSet,
    remote: new RemoteCameras(stateDir),
    logger: log,
    onChange: (change) => {
      live?.camerasRestarted([...change.removed, ...change.changed], 'the camera restarted');
      live?.prepare([...change.added, ...change.changed]);
      linkPort.republishHello();
    },
  });
  await cameraList.fromFile(config.cameras);
  log.info(
    { management: cameraList.mode, configVersion: cameraList.status().version },
    cameraList.mode === 'master'
      ? 'master-managed: cameras as the master last sent them'
      : 'file-managed: cameras from the config file; pushed lists are refused',
  );

  // /metrics server, once every figure it reads exists
  let metricsServer: Server | null = null;
  if (config.httpPort) {
    const access = { token: config.metrics.token ?? null, loopback: config.metrics.loopback };
    const server = await startMetricsServer(metrics.registry, config.httpPort, '0.0.0.0', access, (reason) =>
      metrics.scrapeRefused(reason),
    );
    metricsServer = server;
    started.add('metrics', () => new Promise((done) => server.close(done)));
    log.info({ port: config.httpPort }, 'metrics on /metrics');
    const publicMetrics = publicMetricsWarning(access, '0.0.0.0', 'metrics.token');
    if (publicMetrics) log.warn(publicMetrics);
  }

  // clock: the offset to the master's clock, measured over the link at each connect and every
  // minute; heartbeats and /metrics carry it
  const clockGauge = new ClockGauge(metrics.registry);
  const clock = new ClockSync({
    nodeId: config.nodeId,
    send: (topic, payload): Promise<void> => link.publishNow(topic, payload),
    logger: log.child({ part: 'clock' }),
    onMeasured: (c) => clockGauge.set(c.offsetMs),
  });
  started.add('clock', () => clock.stop());

  // link: MQTT to the master — online status, hello, heartbeats, commands; offline as last will
  const link = new MqttLink({
    ...config.mqtt,
    ca,
    nodeId: config.nodeId,
    agentVersion: AGENT_VERSION,
    heartbeatIntervalS: config.heartbeatIntervalS,
    logger: log.child({ part: 'mqtt' }),
    outboxDir: resolve(stateDir, 'outbox'),
    outbox: { maxMessages: config.outbox.maxMessages, maxBytes: config.outbox.maxBytes },
    hello: () =>
      buildHello({ nodeId: config.nodeId, agentVersion: AGENT_VERSION, ffmpeg, cameras: cameraSet.infos() }),
    heartbeat: heartbeatBuilder({
      spoolDir,
      cameras: figures,
      host,
      live: () => live?.status() ?? { jsmpeg: 'disabled', webrtc: 'disabled' },
      config: () => cameraList.status(),
      clock: () => clock.current(),
    }),
    onRejected: (reason) => metrics.commandRejected(reason),
    onReady: () => void clock.measure(),
    onTimeAnswer: (payload) => clock.receive(payload),
    commands: {
      restart: restartCommand({ logger: log.child({ part: 'restart' }), restart }),
      config: configCommand({
        apply: (cameras, version) => cameraList.fromCommand(cameras, version),
        refused: (version, reason) => cameraList.refused(version, reason),
      }),
      probe: probeCommand({ logger: log.child({ part: 'probe' }) }),
      [CAMERA_MOVED_COMMAND]: cameraMovedCommand({
        logger: log.child({ part: 'cameras' }),
        configured: (cameraId) => cameraSet.recorder(cameraId) !== undefined,
      }),
      ...live?.commands(),
    },
  });
  // stopped also when its start fails midway: the connection may be open already
  started.add('mqtt link', () => link.stop());
  const linkStarted = link.start();
  linkPort.attach(link, linkStarted);
  await linkStarted;
  clock.start();
  log.info({ cameras: cameraSet.recorders().map((r) => r.cameraId) }, 'agent running');

  return {
    cameras: cameraList,
    metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : null,
    jsmpegPort: () => jsmpeg?.port ?? null,
    // In reverse, with two exceptions: the link only says offline first and disconnects after
    // the cameras, whose last events still go into its outbox; /metrics answers to the end.
    async stop() {
      clearInterval(quotaTimer);
      await link.announceOffline();
      await live?.stop();
      await jsmpeg?.stop();
      // The recorders' runs go on for the next agent to take over (recorder.handoffS).
      await cameraSet.stop({ handOff: true });
      await snapshots.stop();
      await (await facesLoading)?.close();
      await uploader.stop();
      await clock.stop();
      await link.stop();
      await new Promise<void>((done) => (metricsServer ? metricsServer.close(() => done()) : done()));
      log.info('agent stopped');
    },
  };
}
