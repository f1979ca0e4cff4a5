/** The hello message: who this node is, what its ffmpeg can do, and what it records. */
import { arch, cpus, hostname, platform, totalmem } from 'node:os';
import { type CameraInfo, type HelloMessage, PROTOCOL_VERSION } from '@cctv/protocol';
import type { FfmpegInfo } from '../host/ffmpeg-info.ts';

export interface HelloInput {
  nodeId: string;
  agentVersion: string;
  ffmpeg: FfmpegInfo;
  cameras: CameraInfo[];
  now?: () => Date;
}

export function buildHello(input: HelloInput): HelloMessage {
  return {
    protocolVersion: PROTOCOL_VERSION as 1,
    nodeId: input.nodeId,
    agentVersion: input.agentVersion,
    at: (input.now?.() ?? new Date()).toISOString(),
    host: {
      hostname: hostname().slice(0, 255),
      platform: platform(),
      arch: arch(),
      cpus: cpus().length,
      memTotalBytes: totalmem(),
    },
    capabilities: { ffmpegVersion: input.ffmpeg.version, hwEncoders: input.ffmpeg.hwEncoders },
    cameras: input.cameras,
  };
}
