/**
 * Node agent entry point: wiring only. Parts are built and started in the order below and
 * stopped in reverse on SIGTERM/SIGINT.
 */
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { ffmpegInfo, findFont, probeVideo } from './host/ffmpeg-info.ts';
import { type CameraFigures, heartbeatBuilder } from './link/heartbeat.ts';
import { buildHello } from './link/hello.ts';
import { MqttLink } from './link/mqtt-link.ts';
import { createLogger } from './logger.ts';
import { AgentMetrics, startMetricsServer } from './metrics/metrics.ts';
import { planCameras } from './recorder/camera-plan.ts';
import { Recorder } from './recorder/recorder.ts';
import { Uploader } from './uploader/uploader.ts';
import { AGENT_VERSION } from './version.ts';

async function main(): Promise<void> {
  // config: YAML from --config / CCTV_AGENT_CONFIG, validated once
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger(undefined).fatal({ code: err.code, problems: err.problems }, err.message);
      process.exit(2);
    }
    throw err;
  }
  const spoolDir = resolve(config.spool.dir);
  const log = createLogger(config.nodeId);
  log.info(
    { agentVersion: AGENT_VERSION, spoolDir, gateway: config.gateway.url, mqtt: config.mqtt.url },
    'agent starting',
  );

  // host: ffmpeg version and hardware encoders, for hello
  const ffmpeg = await ffmpegInfo();
  log.info({ ffmpeg: ffmpeg.version, hwEncoders: ffmpeg.hwEncoders }, 'ffmpeg found');

  // cameras: configured ones probed (copy or transcode), else the simulated test pattern
  const plans = await planCameras(config, { probe: (url) => probeVideo(url), findFont });
  for (const p of plans) log.info({ cameraId: p.id, recording: p.info.recording }, 'camera planned');

  // metrics: counters always, the /metrics server only with httpPort
  const figures = (): CameraFigures[] =>
    recorders.map((r) => ({ ...r.status(), backlog: uploader.backlog(r.cameraId) }));
  const metrics = new AgentMetrics(figures);
  let metricsServer: Server | null = null;
  if (config.httpPort) {
    metricsServer = await startMetricsServer(metrics.registry, config.httpPort);
    log.info({ port: config.httpPort }, 'metrics on /metrics');
  }

  // uploader: resumes the spool backlog, then sends finished segments to the gateway
  const uploader = new Uploader({
    gatewayUrl: config.gateway.url,
    nodeId: config.nodeId,
    spoolDir,
    cameraIds: plans.map((p) => p.id),
    logger: log.child({ part: 'uploader' }),
    onUploaded: (s) => metrics.segmentUploaded(s.cameraId),
    onFailed: (s, _reason, willRetry) => metrics.uploadFailed(s.cameraId, willRetry),
  });
  await uploader.start();

  // recorders: one supervised ffmpeg per camera into the spool; finished segments go to the uploader
  const recorders = plans.map(
    (plan) =>
      new Recorder({
        plan,
        spoolDir,
        segmentSeconds: config.segmentSeconds,
        logger: log.child({ cameraId: plan.id }),
        onSegment: (segment) => {
          metrics.segmentRecorded(segment.cameraId);
          uploader.enqueue(segment);
        },
      }),
  );
  for (const r of recorders) await r.start();

  // link: MQTT to the master — online status, hello, heartbeats; offline as last will
  const link = new MqttLink({
    ...config.mqtt,
    nodeId: config.nodeId,
    agentVersion: AGENT_VERSION,
    heartbeatIntervalS: config.heartbeatIntervalS,
    logger: log.child({ part: 'mqtt' }),
    hello: () =>
      buildHello({
        nodeId: config.nodeId,
        agentVersion: AGENT_VERSION,
        ffmpeg,
        cameras: plans.map((p) => p.info),
      }),
    heartbeat: heartbeatBuilder({ spoolDir, cameras: figures }),
  });
  link.start();
  log.info({ cameras: plans.map((p) => p.id) }, 'agent running');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'agent stopping');
    await link.announceOffline();
    await Promise.all(recorders.map((r) => r.stop()));
    await uploader.stop();
    await link.stop();
    await new Promise<void>((done) => (metricsServer ? metricsServer.close(() => done()) : done()));
    log.info('agent stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => {
      shutdown(signal).catch((err) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      });
    });
}

main().catch((err) => {
  createLogger(undefined).fatal({ err }, 'agent failed to start');
  process.exit(1);
});
