/**
 * Per camera and per run: store the stream as sent (`-c copy`) when it already is the target
 * codec, else encode to H.265 with the hardware encoder when ffmpeg has one (hevc_v4l2m2m),
 * else libx265 — unless libx265 already proved too slow for this camera on this host (the
 * encode watch, encode-watch.ts): then an H.264 source is stored as sent. The decision carries
 * its reason, for hello and the logs.
 */

export type RecordTarget = 'hevc' | 'source';
export type HevcEncoderChoice = 'auto' | 'libx265' | 'hevc_v4l2m2m';

export interface CodecInput {
  /** ffprobe's codec_name of the source's video (h264, hevc, mjpeg, rawvideo…). */
  sourceCodec: string;
  width: number;
  height: number;
  fps: number;
  target: RecordTarget;
  hwEncoders: string[];
  encoder: HevcEncoderChoice;
  /** The hardware encoder failed on this camera before: do not try it again this process. */
  hwFailed: boolean;
  /** Keyframe interval in frames when encoding (segment length × fps). */
  gop: number;
  x265Preset: string;
  /** libx265 could not keep up with this camera before (why): store H.264 as sent instead. */
  softwareOverloaded?: string | null;
}

export interface CodecDecision {
  mode: 'copy' | 'transcode';
  /** `copy`, `libx265` or `hevc_v4l2m2m`. */
  encoder: string;
  /** Codec of the recorded segments, as the gateway indexes it. */
  outputCodec: 'hevc' | 'h264';
  args: string[];
  reason: string;
  /** A software encode the watch may replace by a copy (the source is H.264). */
  canFallBack: boolean;
  /** Set when this is that copy: why the encode was given up. */
  fallback?: string;
}

/** Codecs that fMP4 HLS carries and browsers (or our H.264 rendition) can play as sent. */
const STORABLE = new Set(['hevc', 'h264']);
const HW_HEVC = 'hevc_v4l2m2m';

/**
 * libx265 with a fixed GOP and closed GOPs (`open-gop=0`): every segment then decodes on its
 * own, from its first frame, which exports and the gateway's per-segment H.264 rendition need.
 */
export function x265Args(gop: number, preset: string): string[] {
  return [
    '-c:v',
    'libx265',
    '-preset',
    preset,
    '-tag:v',
    'hvc1',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
    '-x265-params',
    `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0:log-level=error`,
  ];
}

/** A bitrate for the hardware encoder, which needs one: about 0.07 bit per pixel per frame. */
export function hwBitrate(width: number, height: number, fps: number): number {
  const bps = Math.round(width * height * Math.max(1, fps) * 0.07);
  return Math.min(16_000_000, Math.max(300_000, bps));
}

export function v4l2m2mArgs(gop: number, bitrate: number): string[] {
  return [
    '-c:v',
    HW_HEVC,
    '-b:v',
    String(bitrate),
    '-g',
    String(gop),
    '-pix_fmt',
    'yuv420p',
    '-tag:v',
    'hvc1',
  ];
}

export function decideCodec(input: CodecInput): CodecDecision {
  const src = input.sourceCodec;
  if (src === 'hevc')
    return {
      mode: 'copy',
      encoder: 'copy',
      outputCodec: 'hevc',
      args: ['-c:v', 'copy', '-tag:v', 'hvc1'],
      reason: 'source is already H.265: stored as sent, segments cut at its keyframes',
      canFallBack: false,
    };
  if (input.target === 'source' && src === 'h264')
    return {
      mode: 'copy',
      encoder: 'copy',
      outputCodec: 'h264',
      args: ['-c:v', 'copy', '-tag:v', 'avc1'],
      reason: 'record.codec is "source": H.264 stored as sent, segments cut at its keyframes',
      canFallBack: false,
    };
  const why =
    input.target === 'source' && !STORABLE.has(src)
      ? `source is ${src}, which cannot be stored as sent`
      : `source is ${src}`;
  const hwPresent = input.hwEncoders.includes(HW_HEVC);
  const wantHw = input.encoder === HW_HEVC || (input.encoder === 'auto' && hwPresent);
  if (wantHw && hwPresent && !input.hwFailed) {
    const bitrate = hwBitrate(input.width, input.height, input.fps);
    return {
      mode: 'transcode',
      encoder: HW_HEVC,
      outputCodec: 'hevc',
      args: v4l2m2mArgs(input.gop, bitrate),
      reason: `${why}: encoded to H.265 by the hardware encoder (${HW_HEVC}, ${Math.round(bitrate / 1000)} kb/s, keyframe every ${input.gop} frames)`,
      canFallBack: false,
    };
  }
  // Hardware first; without it, libx265 only where it kept up. Copy is the one choice that
  // costs no encoding at all, so an overloaded host records every camera rather than none well.
  if (src === 'h264' && input.softwareOverloaded)
    return {
      mode: 'copy',
      encoder: 'copy',
      outputCodec: 'h264',
      args: ['-c:v', 'copy', '-tag:v', 'avc1'],
      reason: `${input.softwareOverloaded}: H.264 stored as sent`,
      canFallBack: false,
      fallback: input.softwareOverloaded,
    };
  let fallback = '';
  if (wantHw && !hwPresent) fallback = `; ${HW_HEVC} is not available in this ffmpeg`;
  else if (wantHw && input.hwFailed) fallback = `; ${HW_HEVC} failed on this camera`;
  return {
    mode: 'transcode',
    encoder: 'libx265',
    outputCodec: 'hevc',
    args: x265Args(input.gop, input.x265Preset),
    reason: `${why}: encoded to H.265 with libx265 (${input.x265Preset}, keyframe every ${input.gop} frames)${fallback}`,
    canFallBack: src === 'h264',
  };
}
