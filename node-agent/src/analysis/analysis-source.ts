/**
 * Where a camera's analysis frames come from: the substream when the camera has one, else the
 * main stream, opened a second time next to the recorder (so analysis can never hold up
 * recording). Local devices (V4L2, the Pi camera) can only be opened once, by the recorder:
 * without a substream URL they get no analysis, and the agent says so.
 */
import type { StreamInfo } from '../host/ffmpeg-info.ts';
import { PrepareError } from '../process/supervised-child.ts';
import { simulatedInput } from '../recorder/simulated-plan.ts';
import { inputArgs, parseSource, probeArgs, type Transport, transportsFor } from '../recorder/source.ts';
import { type TransportMemory, transportOrder } from '../recorder/transport-memory.ts';
import type { DetectSettings } from './detect-settings.ts';
import { type AnalysisPlan, fitWithin } from './frame-reader.ts';

type Size = { width: number; height: number };

export interface AnalysisSourceDeps {
  probe: (input: string[], timeoutMs: number) => Promise<StreamInfo>;
  memory: TransportMemory;
  probeTimeoutS: number;
  readTimeoutS: number;
  /** Largest detail frame (faces, snapshots); larger sources are scaled down. */
  maxDetail: Size;
}

export type AnalysisSource =
  | { ok: true; url: string | null; plan: () => Promise<AnalysisPlan> }
  | { ok: false; reason: string };

function sizes(settings: DetectSettings, source: Size, max: Size) {
  return {
    fps: settings.fps,
    gray: { width: settings.width, height: settings.height },
    detail: fitWithin(source, max),
  };
}

export function cameraAnalysisSource(
  camera: {
    id: string;
    url: string;
    substreamUrl?: string | undefined;
    transports?: Transport[] | undefined;
  },
  settings: DetectSettings,
  deps: AnalysisSourceDeps,
): AnalysisSource {
  const url = camera.substreamUrl ?? camera.url;
  const source = parseSource(url);
  if (source.kind === 'rpicam' || (source.kind === 'v4l2' && !camera.substreamUrl))
    return {
      ok: false,
      reason: `${source.kind === 'v4l2' ? 'a V4L2 device' : 'the Pi camera'} is opened only by the recorder; set substreamUrl to a network stream for detection`,
    };
  // The transport that worked last; for the main stream the recorder's memory knows it too.
  let worked: Transport | null = null;
  return {
    ok: true,
    url,
    plan: async () => {
      const configured = transportsFor(source, camera.transports);
      const remembered = (camera.substreamUrl ? null : deps.memory.get(camera.id, url)) ?? worked;
      const order: (Transport | undefined)[] = configured.length
        ? transportOrder(configured, remembered)
        : [undefined];
      let problem = 'no transport to try';
      for (const transport of order) {
        const opts = { transport, timeoutS: deps.readTimeoutS, gop: 10 };
        const probe = probeArgs(source, opts);
        try {
          const info = probe
            ? await deps.probe(probe, deps.probeTimeoutS * 1000)
            : { codec: 'h264', width: 1280, height: 720, fps: 0 };
          if (!info.width || !info.height) throw new Error('no frame size reported');
          worked = transport ?? null;
          return { inputArgs: inputArgs(source, opts).args, ...sizes(settings, info, deps.maxDetail) };
        } catch (err) {
          problem = `${transport ?? 'open'}: ${(err as Error).message}`;
        }
      }
      throw new PrepareError(`analysis source unreachable (${problem})`);
    },
  };
}

/** The simulated camera's analysis: the same test pattern, generated again. */
export function simulatedAnalysisSource(
  size: { width: number; height: number; fps: number },
  settings: DetectSettings,
  maxDetail: { width: number; height: number },
): AnalysisSource {
  return {
    ok: true,
    url: null,
    plan: async () => ({ inputArgs: simulatedInput(size, null), ...sizes(settings, size, maxDetail) }),
  };
}
