/**
 * What a camera URL names and how ffmpeg reads it: RTSP (TCP or UDP), RTSPS, HTTP(S) streams,
 * local V4L2 devices, the Raspberry Pi camera (rpicam-vid / libcamera-vid piped into ffmpeg),
 * and local files looped as stand-in cameras.
 */

export type Transport = 'tcp' | 'udp';

export type Source =
  | { kind: 'rtsp'; url: string; tls: boolean }
  | { kind: 'http'; url: string }
  | { kind: 'v4l2'; device: string; inputFormat?: string; videoSize?: string; framerate?: number }
  | { kind: 'rpicam'; camera: number; width: number; height: number; fps: number; bitrate: number }
  | { kind: 'file'; path: string };

export const SUPPORTED_SOURCES =
  'rtsp://, rtsps://, http(s)://, /dev/videoN or v4l2:///dev/videoN, rpicam://N, or a file path';

export class SourceError extends Error {
  readonly code = 'SOURCE_INVALID';
}

const SIZE_RE = /^\d{2,5}x\d{2,5}$/;

function positiveInt(raw: string | null, fallback: number, key: string, max: number): number {
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new SourceError(`${key} must be an integer 1–${max}`);
  return n;
}

/** Parses a camera URL; throws SourceError naming what is wrong. */
export function parseSource(raw: string): Source {
  const url = raw.trim();
  if (url.startsWith('/dev/')) return { kind: 'v4l2', device: url };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (!scheme) {
    if (url.includes('\0')) throw new SourceError('file path contains a NUL byte');
    return { kind: 'file', path: url };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SourceError(`"${redactUrl(url)}" is not a URL`);
  }
  switch (scheme) {
    case 'rtsp':
    case 'rtsps':
      if (!parsed.hostname) throw new SourceError('RTSP URL has no host');
      return { kind: 'rtsp', url, tls: scheme === 'rtsps' };
    case 'http':
    case 'https':
      if (!parsed.hostname) throw new SourceError('HTTP URL has no host');
      return { kind: 'http', url };
    case 'file':
      return { kind: 'file', path: decodeURIComponent(parsed.pathname) };
    case 'v4l2': {
      const device = decodeURIComponent(parsed.pathname);
      if (!device.startsWith('/dev/'))
        throw new SourceError('v4l2 URL must name a device, e.g. v4l2:///dev/video0');
      const q = parsed.searchParams;
      const videoSize = q.get('video_size') ?? undefined;
      if (videoSize && !SIZE_RE.test(videoSize)) throw new SourceError('video_size must look like 1280x720');
      const inputFormat = q.get('input_format') ?? undefined;
      if (inputFormat && !/^[a-z0-9_]{1,32}$/.test(inputFormat))
        throw new SourceError('input_format must be a pixel or codec name such as h264, mjpeg, yuyv422');
      const framerate = q.has('framerate') ? positiveInt(q.get('framerate'), 0, 'framerate', 240) : undefined;
      return {
        kind: 'v4l2',
        device,
        ...(inputFormat ? { inputFormat } : {}),
        ...(videoSize ? { videoSize } : {}),
        ...(framerate ? { framerate } : {}),
      };
    }
    case 'rpicam':
    case 'libcamera': {
      const q = parsed.searchParams;
      const camera = parsed.hostname === '' ? 0 : Number(parsed.hostname);
      if (!Number.isInteger(camera) || camera < 0 || camera > 15)
        throw new SourceError(
          'rpicam camera index must be 0–15, e.g. rpicam://0?width=1920&height=1080&fps=15',
        );
      return {
        kind: 'rpicam',
        camera,
        width: positiveInt(q.get('width'), 1920, 'width', 4656),
        height: positiveInt(q.get('height'), 1080, 'height', 3496),
        fps: positiveInt(q.get('fps'), 15, 'fps', 120),
        bitrate: positiveInt(q.get('bitrate'), 4_000_000, 'bitrate', 50_000_000),
      };
    }
    default:
      throw new SourceError(`unsupported source "${scheme}:"; use ${SUPPORTED_SOURCES}`);
  }
}

/** A config problem with a camera URL, or null when the agent can read it. */
export function sourceProblem(url: string): string | null {
  try {
    parseSource(url);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The URL with any password replaced, for logs, hello and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** The transports to try for a source, in order: only RTSP over plain TCP can also use UDP. */
export function transportsFor(source: Source, configured: Transport[] | undefined): Transport[] {
  if (source.kind !== 'rtsp') return [];
  if (source.tls) return ['tcp']; // RTSPS runs its media inside the TLS connection
  return configured?.length ? configured : ['tcp', 'udp'];
}

export interface InputOptions {
  transport?: Transport | undefined;
  /** Network read timeout: ffmpeg gives up a silent connection after this long. */
  timeoutS: number;
  /** Keyframe interval asked of a camera that encodes for us (rpicam). */
  gop: number;
}

/** Options that go before `-i` when ffmpeg or ffprobe open the source over the network or a device. */
function openOptions(source: Source, opts: InputOptions): string[] {
  const timeoutUs = String(Math.round(opts.timeoutS * 1_000_000));
  switch (source.kind) {
    case 'rtsp':
      return [
        // Stream analysis before recording starts delays the first segment (and its clock
        // time) by up to 5 s by default; the codec is in the SDP, 1 s is plenty.
        '-analyzeduration',
        '1000000',
        '-rtsp_transport',
        opts.transport ?? 'tcp',
        '-timeout',
        timeoutUs,
        // Room for a burst of 1080p keyframe packets over UDP before the kernel drops them.
        ...(opts.transport === 'udp' ? ['-buffer_size', String(4 * 1024 * 1024)] : []),
      ];
    case 'http':
      return ['-rw_timeout', timeoutUs];
    case 'v4l2':
      return [
        '-f',
        'v4l2',
        ...(source.inputFormat ? ['-input_format', source.inputFormat] : []),
        ...(source.videoSize ? ['-video_size', source.videoSize] : []),
        ...(source.framerate ? ['-framerate', String(source.framerate)] : []),
      ];
    case 'rpicam':
      return ['-f', 'h264', '-framerate', String(source.fps), '-fflags', '+genpts'];
    case 'file':
      return [];
  }
}

/** Where ffprobe/ffmpeg read the source from (the `-i` operand). */
export function sourceLocation(source: Source): string {
  switch (source.kind) {
    case 'rtsp':
    case 'http':
      return source.url;
    case 'v4l2':
      return source.device;
    case 'file':
      return source.path;
    case 'rpicam':
      return 'pipe:0';
  }
}

/**
 * ffmpeg's input arguments for a source; a piped source also gets the command that feeds
 * ffmpeg's stdin (run in one shell pipeline under the supervisor).
 */
export function inputArgs(
  source: Source,
  opts: InputOptions,
): { args: string[]; feeder?: { command: string; args: string[] } } {
  const open = openOptions(source, opts);
  if (source.kind === 'file') return { args: ['-re', '-stream_loop', '-1', '-i', source.path] };
  if (source.kind !== 'rpicam') return { args: [...open, '-i', sourceLocation(source)] };
  return {
    args: [...open, '-i', 'pipe:0'],
    feeder: {
      command: 'rpicam-vid',
      args: [
        '--camera',
        String(source.camera),
        '-t',
        '0',
        '-n',
        '--codec',
        'h264',
        '--inline',
        '--intra',
        String(opts.gop),
        '--width',
        String(source.width),
        '--height',
        String(source.height),
        '--framerate',
        String(source.fps),
        '--bitrate',
        String(source.bitrate),
        '-o',
        '-',
      ],
    },
  };
}

/**
 * ffprobe's arguments to open the same source (no pacing, no looping); null for the Pi camera,
 * whose module says itself what it sends: H.264 of the configured size and rate.
 */
export function probeArgs(source: Source, opts: InputOptions): string[] | null {
  if (source.kind === 'rpicam') return null;
  return [...openOptions(source, opts), sourceLocation(source)];
}

/** POSIX shell quoting for one argument. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
