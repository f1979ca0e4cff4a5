/** From config to each camera's analysis: settings, frame source, the shared face detector. */
import { type EventMessage, topics, validators } from '@cctv/protocol';
import type { FaceDetector } from '@cctv/vision/faces';
import type { Logger } from 'pino';
import type { CameraAnalysis, CameraDefinition } from '../cameras/camera-set.ts';
import type { AgentConfig, CameraConfig } from '../config.ts';
import type { StreamInfo } from '../host/ffmpeg-info.ts';
import type { TransportMemory } from '../recorder/transport-memory.ts';
import { cameraAnalysisSource, simulatedAnalysisSource } from './analysis-source.ts';
import { type AnalyzerHooks, CameraAnalyzer } from './camera-analyzer.ts';
import { detectSettings } from './detect-settings.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export interface AnalysisFactoryDeps extends AnalyzerHooks {
  probe: (input: string[], timeoutMs: number) => Promise<StreamInfo>;
  memory: TransportMemory;
  /** Loads the shared face detector (once); called only when a camera wants faces. */
  faces: () => Promise<FaceDetector | null>;
  snapshots: SnapshotStore;
  /** Queues an event for the master (through the outbox). */
  publish: (topic: string, payload: string) => Promise<void>;
  logger: Logger;
}

type SimulatedSpec = { simulated: AgentConfig['simulatedCamera'] };

export function analysisFactory(
  config: AgentConfig,
  deps: AnalysisFactoryDeps,
): (def: CameraDefinition) => CameraAnalysis | null {
  const maxDetail = { width: config.detection.maxDetailWidth, height: config.detection.maxDetailHeight };
  const publish = (message: EventMessage) => {
    const checked = validators.event.validate(message);
    if (!checked.ok) {
      deps.logger.error({ cameraId: message.cameraId, error: checked.error }, 'event not sent: invalid');
      return;
    }
    deps
      .publish(topics.events(config.nodeId), JSON.stringify(message))
      .catch((err: Error) =>
        deps.logger.error({ cameraId: message.cameraId, err: err.message }, 'event not queued'),
      );
  };
  return (def) => {
    const spec = def.spec as CameraConfig | SimulatedSpec;
    const settings = detectSettings('simulated' in spec ? spec.simulated.detect : spec.detect);
    const log = deps.logger.child({ cameraId: def.id, part: 'analysis' });
    if (!settings.enabled) return null;
    const source =
      'simulated' in spec
        ? simulatedAnalysisSource(spec.simulated, settings, maxDetail)
        : cameraAnalysisSource(spec, settings, {
            probe: deps.probe,
            memory: deps.memory,
            probeTimeoutS: config.recorder.probeTimeoutS,
            readTimeoutS: config.recorder.stallTimeoutS,
            maxDetail,
          });
    if (!source.ok) {
      log.warn({ reason: source.reason }, 'no detection for this camera');
      return null;
    }
    return new CameraAnalyzer({
      cameraId: def.id,
      settings,
      plan: source.plan,
      faces: settings.faces.enabled ? deps.faces() : null,
      snapshots: deps.snapshots,
      publish,
      logger: log,
      ...(deps.onFrame ? { onFrame: deps.onFrame } : {}),
      ...(deps.onInference ? { onInference: deps.onInference } : {}),
      ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
      ...(deps.onExit ? { onExit: deps.onExit } : {}),
    });
  };
}
