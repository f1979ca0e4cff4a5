/**
 * Decides per camera what ffmpeg reads and how it records: `-c copy` when the source is
 * already HEVC, else an encode to H.265 with libx265 (the simulated camera always encodes).
 * The decision and its reason go into hello's `recording` field.
 */
import type { CameraInfo } from '@cctv/protocol';
import type { AgentConfig, CameraConfig } from '../config.ts';
import type { StreamInfo } from '../host/ffmpeg-info.ts';

export interface CameraPlan {
  id: string;
  name: string;
  simulated: boolean;
  inputArgs: string[];
  encodeArgs: string[];
  /** What hello reports: source codec/size/fps and the recording plan. */
  info: CameraInfo;
}

export interface PlanDeps {
  probe: (url: string) => Promise<StreamInfo>;
  findFont: () => Promise<string | null>;
}

export function x265Args(gop: number): string[] {
  return [
    '-c:v',
    'libx265',
    '-preset',
    'ultrafast',
    '-tag:v',
    'hvc1',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-x265-params',
    `keyint=${gop}:min-keyint=${gop}:scenecut=0:log-level=error`,
  ];
}

/** Test pattern with a UTC clock overlay (drawtext's default gmtime format needs no escaping). */
export function simulatedInput(
  size: { width: number; height: number; fps: number },
  font: string | null,
): string[] {
  let graph = `testsrc2=size=${size.width}x${size.height}:rate=${size.fps}`;
  if (font) {
    const fontSize = Math.max(10, Math.round(size.height / 12));
    graph +=
      `,drawtext=fontfile=${font}:text='%{gmtime} UTC':fontsize=${fontSize}` +
      ':fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=3:x=6:y=6';
  }
  return ['-re', '-f', 'lavfi', '-i', graph];
}

export function sourceInput(url: string): string[] {
  if (url.startsWith('rtsp://') || url.startsWith('rtsps://')) return ['-rtsp_transport', 'tcp', '-i', url];
  if (url.includes('://')) return ['-i', url];
  // A local file stands in for a camera: read it at its own pace, forever.
  return ['-re', '-stream_loop', '-1', '-i', url];
}

export async function planSimulatedCamera(config: AgentConfig, deps: PlanDeps): Promise<CameraPlan> {
  const sim = config.simulatedCamera;
  const font = await deps.findFont();
  const gop = config.segmentSeconds * sim.fps;
  return {
    id: `${config.nodeId}-sim`,
    name: 'Simulated camera',
    simulated: true,
    inputArgs: simulatedInput(sim, font),
    encodeArgs: x265Args(gop),
    info: {
      id: `${config.nodeId}-sim`,
      name: 'Simulated camera',
      codec: 'rawvideo',
      width: sim.width,
      height: sim.height,
      fps: sim.fps,
      simulated: true,
      recording: {
        mode: 'transcode',
        encoder: 'libx265',
        reason: `simulated test pattern (lavfi testsrc2${font ? ', clock overlay' : ', no font for the clock overlay'}) encoded to H.265`,
      },
    },
  };
}

export async function planCamera(
  cam: CameraConfig,
  segmentSeconds: number,
  deps: PlanDeps,
): Promise<CameraPlan> {
  let stream: StreamInfo | null = null;
  let probeError: string | null = null;
  try {
    stream = await deps.probe(cam.url);
  } catch (err) {
    probeError = (err as Error).message.split('\n')[0] ?? 'unknown error';
  }
  const base = { id: cam.id, name: cam.name, simulated: false, inputArgs: sourceInput(cam.url) };
  const fps = stream?.fps || 25;
  const gop = Math.max(1, Math.round(segmentSeconds * fps));
  const info = (mode: 'copy' | 'transcode', encoder: string, reason: string): CameraInfo => ({
    id: cam.id,
    name: cam.name,
    codec: stream?.codec ?? 'unknown',
    width: stream?.width ?? 0,
    height: stream?.height ?? 0,
    fps: stream?.fps ?? 0,
    simulated: false,
    recording: { mode, encoder, reason: reason.slice(0, 300) },
  });
  if (stream?.codec === 'hevc')
    return {
      ...base,
      encodeArgs: ['-c:v', 'copy', '-tag:v', 'hvc1'],
      info: info('copy', 'copy', 'source is already H.265: stored as sent, segments cut at its keyframes'),
    };
  const reason = stream
    ? `source is ${stream.codec}: encoded to H.265 with libx265, keyframe every ${gop} frames`
    : `probe failed (${probeError}): encoding to H.265 with libx265 as the safe default`;
  return { ...base, encodeArgs: x265Args(gop), info: info('transcode', 'libx265', reason) };
}

/** The configured cameras, or the simulated one when none is configured. */
export async function planCameras(config: AgentConfig, deps: PlanDeps): Promise<CameraPlan[]> {
  const cams = config.cameras ?? [];
  if (cams.length === 0) return [await planSimulatedCamera(config, deps)];
  return Promise.all(cams.map((cam) => planCamera(cam, config.segmentSeconds, deps)));
}

/** The full ffmpeg argument list for one run writing fMP4 HLS into the camera's spool folder. */
export function ffmpegArgs(
  plan: CameraPlan,
  out: { dir: string; playlist: string; init: string; segmentPattern: string },
  segmentSeconds: number,
): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'warning',
    '-y',
    ...plan.inputArgs,
    '-map',
    '0:v:0',
    '-an',
    ...plan.encodeArgs,
    '-f',
    'hls',
    '-hls_segment_type',
    'fmp4',
    '-hls_time',
    String(segmentSeconds),
    '-hls_list_size',
    '0',
    '-hls_flags',
    'program_date_time+independent_segments+temp_file',
    '-hls_fmp4_init_filename',
    out.init,
    '-hls_segment_filename',
    `${out.dir}/${out.segmentPattern}`,
    `${out.dir}/${out.playlist}`,
  ];
}
