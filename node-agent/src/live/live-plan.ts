/**
 * How the live relay's ffmpeg reads a camera and what it sends: the camera's H.264 substream
 * (else its main stream) copied as it is into RTP, with the camera's audio as Opus. A source
 * that is not H.264 is encoded with libx264 when `transcode` allows, else it has no live
 * WebRTC view (the dashboard falls back to live HLS). Local devices (V4L2, the Pi camera)
 * are held by the recorder and cannot be opened twice.
 */
import type { CameraConfig } from '../config.ts';
import { simulatedInput } from '../recorder/simulated-plan.ts';
import { inputArgs, parseSource, type Source, type Transport, transportsFor } from '../recorder/source.ts';
import type { LiveInput } from './jsmpeg-server.ts';

/** What the relay knows of the live source before it starts (from a probe, or by construction). */
export interface LiveStreams {
  video: string;
  /** The audio codec, or null when the source has none. */
  audio: string | null;
}

export interface LivePlan {
  /** ffmpeg's input arguments, up to and including `-i`. */
  input: string[];
  /** For ffprobe: the same source, or null when its streams are known already. */
  probe: string[] | null;
  /** Known streams (the simulated camera), else from the probe. */
  streams: LiveStreams | null;
  /** For the jsmpeg fallback: the one `-i` argument and, when options are needed, a feeder. */
  jsmpeg: LiveInput;
  /** For logs and errors: the URL without a password, or "simulated". */
  label: string;
}

export class LiveUnsupportedError extends Error {
  readonly code = 'LIVE_UNSUPPORTED';
}

export interface LivePlanSettings {
  readTimeoutS: number;
  /** The transport that last worked for this URL, if any. */
  rememberedTransport: (cameraId: string, url: string) => Transport | undefined;
}

/**
 * What a jsmpeg feeder writes: decoded pictures as YUV4MPEG, whose header states size and rate,
 * so the muxer starts at once (it re-encodes anyway; an MPEG-TS copy made it probe for seconds).
 */
const Y4M = ['-map', '0:v:0', '-an', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', 'pipe:1'];

/**
 * Low delay on the way in, after the source's own options (the last one wins): no input
 * buffering or reordering delay, and almost no stream analysis, since the copy needs only the
 * codec (an RTSP camera's SDP names it) and the streams are known from the probe. Measured
 * against the test camera: the first RTP packet 1.2 s after ffmpeg starts instead of 2.2 s.
 */
const LOW_DELAY = [
  ...['-fflags', 'nobuffer', '-flags', 'low_delay', '-max_delay', '0'],
  ...['-probesize', '4096', '-analyzeduration', '100000'],
];

export function simulatedLivePlan(
  size: { width: number; height: number; fps: number },
  font: string | null,
): LivePlan {
  const input = simulatedInput(size, font);
  return {
    input,
    probe: null,
    streams: { video: 'rawvideo', audio: null },
    jsmpeg: {
      url: 'pipe:0',
      feeder: {
        command: 'ffmpeg',
        args: ['-hide_banner', '-loglevel', 'error', ...input, ...Y4M],
      },
    },
    label: 'simulated',
  };
}

export function cameraLivePlan(cam: CameraConfig, settings: LivePlanSettings): LivePlan {
  const url = cam.substreamUrl ?? cam.url;
  const source: Source = parseSource(url);
  if (source.kind === 'v4l2' || source.kind === 'rpicam')
    throw new LiveUnsupportedError(
      `${cam.id}: a local camera is held by its recorder; watch it through live HLS`,
    );
  const transports = transportsFor(source, cam.transports);
  const remembered = settings.rememberedTransport(cam.id, url);
  const transport = remembered && transports.includes(remembered) ? remembered : transports[0];
  const opened = inputArgs(source, { transport, timeoutS: settings.readTimeoutS, gop: 1 });
  const input =
    source.kind === 'file'
      ? opened.args
      : [...opened.args.slice(0, -2), ...LOW_DELAY, ...opened.args.slice(-2)];
  const label = source.kind === 'file' ? source.path : url.replace(/\/\/[^/@]*@/, '//***@');
  // ffprobe takes the source's options but no pacing or looping, and analyses as it likes.
  const probe = opened.args
    .filter((a) => a !== '-re')
    .filter((a, i, all) => !(a === '-stream_loop' || all[i - 1] === '-stream_loop'));
  // The muxer takes one `-i` argument and no input options: a source that needs them
  // (transport, pacing, looping) reaches it decoded, through a pipe.
  const jsmpeg: LiveInput =
    source.kind === 'http'
      ? { url }
      : {
          url: 'pipe:0',
          feeder: {
            command: 'ffmpeg',
            args: ['-hide_banner', '-loglevel', 'error', ...input, ...Y4M],
          },
        };
  return { input, probe, streams: null, jsmpeg, label };
}

export interface RelayOutputs {
  videoPort: number;
  audioPort: number | null;
  /** Encode the video (not H.264, or a raw test pattern) instead of copying it. */
  encode: boolean;
  maxWidth: number;
  fps?: number;
}

/** The relay's ffmpeg arguments after the input: RTP out to the agent's own UDP sockets. */
export function relayOutputArgs(out: RelayOutputs): string[] {
  // 1200-byte packets leave room for SRTP and TURN headers inside a 1500-byte MTU.
  const rtp = (port: number) => `rtp://127.0.0.1:${port}?pkt_size=1200&rtcpport=${port}`;
  const video = out.encode
    ? [
        '-vf',
        `scale='min(${out.maxWidth},iw)':-2,format=yuv420p`,
        '-c:v',
        'libx264',
        '-preset',
        'ultrafast',
        '-tune',
        'zerolatency',
        '-profile:v',
        'baseline',
        // A keyframe every second bounds how long a new viewer waits for its first picture.
        '-g',
        String(out.fps ?? 15),
        '-bf',
        '0',
      ]
    : // Copied as the camera sent it, in Annex B (an MP4 source stores length-prefixed NAL
      // units), with SPS/PPS before every keyframe: a viewer who joins late never saw the
      // ones at the start of the stream.
      ['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb,dump_extra'];
  const args = ['-map', '0:v:0', '-an', ...video, '-f', 'rtp', rtp(out.videoPort)];
  if (out.audioPort !== null)
    args.push(
      '-map',
      '0:a:0',
      '-vn',
      // WebRTC browsers all take Opus; cameras send AAC or G.711. Audio is cheap to encode.
      '-c:a',
      'libopus',
      '-application',
      'lowdelay',
      '-b:a',
      '32k',
      '-ar',
      '48000',
      '-ac',
      '2',
      '-f',
      'rtp',
      rtp(out.audioPort),
    );
  return args;
}
