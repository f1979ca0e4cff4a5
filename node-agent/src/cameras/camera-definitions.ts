/** From config to the camera set: which cameras to run, and the planner each one gets. */
import { availableParallelism } from 'node:os';
import type { AgentConfig, CameraConfig } from '../config.ts';
import { type FfmpegInfo, onPath, probeVideo } from '../host/ffmpeg-info.ts';
import { type CameraPlanner, SourcePlanner } from '../recorder/camera-plan.ts';
import type { EncodeWatchSettings } from '../recorder/encode-watch.ts';
import { SimulatedPlanner } from '../recorder/simulated-plan.ts';
import type { TransportMemory } from '../recorder/transport-memory.ts';
import type { CameraDefinition } from './camera-set.ts';

type SimulatedSpec = { simulated: AgentConfig['simulatedCamera'] };

/**
 * The enabled cameras; with no camera configured at all (`null`), the simulated one (a node
 * that records nothing is never what a fresh install wants to show). An empty list the master
 * pushed is no camera at all.
 */
export function cameraDefinitions(config: AgentConfig, cameras: CameraConfig[] | null): CameraDefinition[] {
  if (cameras === null)
    return [
      { id: `${config.nodeId}-sim`, spec: { simulated: config.simulatedCamera } satisfies SimulatedSpec },
    ];
  return cameras.filter((c) => c.enabled !== false).map((c) => ({ id: c.id, spec: c }));
}

export function cameraPlannerFactory(
  config: AgentConfig,
  host: { ffmpeg: FfmpegInfo; memory: TransportMemory; font: string | null },
): (def: CameraDefinition) => CameraPlanner {
  const settings = {
    segmentSeconds: config.segmentSeconds,
    probeTimeoutS: config.recorder.probeTimeoutS,
    readTimeoutS: config.recorder.stallTimeoutS,
    hevcEncoder: config.recorder.hevcEncoder,
    x265Preset: config.recorder.x265Preset,
    hwEncoders: host.ffmpeg.hwEncoders,
    x265Watch: x265Watch(config),
  };
  let piCamera: Promise<string | null> | null = null;
  const deps = {
    probe: (input: string[], timeoutMs: number) => probeVideo(input, timeoutMs),
    memory: host.memory,
    piCameraCommand: () => {
      piCamera ??= (async () =>
        (await onPath('rpicam-vid'))
          ? 'rpicam-vid'
          : (await onPath('libcamera-vid'))
            ? 'libcamera-vid'
            : null)();
      return piCamera;
    },
  };
  return (def) => {
    const spec = def.spec as CameraConfig | SimulatedSpec;
    if ('simulated' in spec) return new SimulatedPlanner(def.id, spec.simulated, host.font, settings);
    return new SourcePlanner(spec, settings, deps);
  };
}

/**
 * How a libx265 encode is judged. The lag that condemns a slow encode is a quarter of a
 * segment, over at least 2 s: what is still queued in it when it is replaced is lost, and with
 * the new run's start (about half a second) the switch must leave no gap over one segment.
 */
export function x265Watch(config: AgentConfig): EncodeWatchSettings {
  const r = config.recorder;
  return {
    minSpeed: r.x265MinSpeed,
    warmupS: r.x265WarmupS,
    windowS: r.x265WindowS,
    maxLagS: config.segmentSeconds / 4,
    minSpanS: 2,
    cpuBudgetPercent: r.x265CpuBudgetPercent,
    cores: availableParallelism(),
  };
}
