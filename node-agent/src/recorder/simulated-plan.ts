/** The simulated camera: ffmpeg's moving test pattern with a UTC clock, recorded when none is configured. */
import type { CameraInfo } from '@cctv/protocol';
import type { CameraPlanner, PreparedRun, RecordingSettings } from './camera-plan.ts';
import { x265Args } from './codec-policy.ts';

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

/** The simulated camera recorded when none is configured: always encoded with libx265. */
export class SimulatedPlanner implements CameraPlanner {
  readonly name = 'Simulated camera';
  private readonly run: PreparedRun;

  constructor(
    readonly id: string,
    size: { width: number; height: number; fps: number },
    font: string | null,
    settings: Pick<RecordingSettings, 'segmentSeconds' | 'x265Preset'>,
  ) {
    const gop = settings.segmentSeconds * size.fps;
    this.run = {
      inputArgs: simulatedInput(size, font),
      encodeArgs: x265Args(gop, settings.x265Preset),
      transport: null,
      outputCodec: 'hevc',
      info: {
        id,
        name: this.name,
        codec: 'rawvideo',
        width: size.width,
        height: size.height,
        fps: size.fps,
        simulated: true,
        recording: {
          mode: 'transcode',
          encoder: 'libx265',
          reason: `simulated test pattern (lavfi testsrc2${font ? ', clock overlay' : ', no font for the clock overlay'}) encoded to H.265`,
        },
      },
    };
  }

  async prepare(): Promise<PreparedRun> {
    return this.run;
  }
  runEnded(): void {}
  runProduced(): void {}
  footage(): void {}
  info(): CameraInfo {
    return this.run.info;
  }
}
