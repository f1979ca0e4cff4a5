/**
 * `cmd/probe`: opens a camera URL before it is saved and answers what it carries. Each RTSP
 * transport asked for (default TCP, then UDP) is tried with ffprobe; the first that plays also
 * gives one frame as a small JPEG. One probe at a time per node (another gets BUSY); the whole
 * probe ends within its `timeoutMs`, ffmpeg and ffprobe killed past it. The URL's password is
 * never logged nor put into a message.
 */
import {
  COMMAND_ERRORS,
  PROBE_ERRORS,
  PROBE_SNAPSHOT_MAX_BASE64,
  PROBE_SNAPSHOT_MAX_WIDTH,
  PROBE_TIMEOUT_MS,
  type ProbeArgs,
  type ProbeResult,
  redactCredentials,
  validators,
} from '@cctv/protocol';
import type { Logger } from 'pino';
import { probeStreams, type SourceReadError, type SourceStreams } from '../host/ffmpeg-info.ts';
import {
  type InputOptions,
  inputArgs,
  parseSource,
  probeArgs,
  type Source,
  type Transport,
  transportsFor,
} from '../recorder/source.ts';
import { CommandError } from './config-command.ts';
import {
  classifyProbeFailure,
  type ProbeFailure,
  type ProbeTarget,
  probeError,
  probeTarget,
} from './probe-failure.ts';
import { grabJpeg } from './probe-snapshot.ts';

/** JPEG qualities tried in turn until the picture fits the reply. */
const QUALITIES = [5, 15, 31];

/** What one ffprobe or ffmpeg run may take: the time left, how it opens the source, its kill switch. */
interface Attempt {
  left: number;
  open: InputOptions;
  signal: AbortSignal;
}

export interface ProbeCommandDeps {
  logger: Logger;
  now?: () => number;
}

/** Validates `args`: a URL the node cannot read is BAD_URL, anything else BAD_REQUEST. */
export function parseProbeArgs(args: unknown): {
  args: ProbeArgs;
  source: Source & { url: string };
  url: URL;
} {
  const checked = validators.probeArgs.validate(args);
  const raw = (args as { url?: unknown } | null)?.url;
  if (!checked.ok) {
    if (checked.error.includes('/url') || typeof raw !== 'string')
      throw new CommandError(
        PROBE_ERRORS.badUrl,
        typeof raw === 'string' && raw.length > 0
          ? `"${redactCredentials(raw.slice(0, 200))}" cannot be probed: use an rtsp://, rtsps://, http:// or https:// URL`
          : 'a camera URL is needed (rtsp://, rtsps://, http:// or https://)',
      );
    throw new CommandError(COMMAND_ERRORS.badRequest, checked.error);
  }
  let source: Source;
  let url: URL;
  try {
    source = parseSource(checked.value.url);
    url = new URL(checked.value.url);
  } catch (err) {
    throw new CommandError(PROBE_ERRORS.badUrl, (err as Error).message);
  }
  if (source.kind !== 'rtsp' && source.kind !== 'http')
    throw new CommandError(
      PROBE_ERRORS.badUrl,
      'only rtsp://, rtsps://, http:// and https:// URLs can be probed',
    );
  return { args: checked.value, source, url };
}

export function probeCommand(deps: ProbeCommandDeps): (args: unknown) => Promise<ProbeResult> {
  let busy = false;
  return async (raw) => {
    const parsed = parseProbeArgs(raw);
    if (busy)
      throw new CommandError(PROBE_ERRORS.busy, 'this node is probing another camera; try again shortly');
    busy = true;
    const log = deps.logger.child({ url: redactCredentials(parsed.args.url) });
    const started = Date.now();
    try {
      const result = await runProbe(parsed, deps.now ?? Date.now);
      log.info(
        { codec: result.codec, width: result.width, height: result.height, transports: result.transports },
        'camera URL probed',
      );
      return result;
    } catch (err) {
      log.info({ code: (err as CommandError).code, ms: Date.now() - started }, 'camera URL probe failed');
      throw err;
    } finally {
      busy = false;
    }
  };
}

async function runProbe(
  { args, source, url }: ReturnType<typeof parseProbeArgs>,
  now: () => number,
): Promise<ProbeResult> {
  const timeoutMs = args.timeoutMs ?? PROBE_TIMEOUT_MS.default;
  const deadline = now() + timeoutMs;
  const target = probeTarget(url);
  // Kills whatever ffprobe or ffmpeg still runs when the probe's time is up.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const step = (transport: Transport | null): Attempt => {
    const left = deadline - now();
    if (left <= 0) throw timeoutError(target, timeoutMs);
    const open = {
      transport: transport ?? undefined,
      timeoutS: Math.max(1, Math.floor(left / 1000)),
      gop: 1,
    };
    return { left, open, signal: abort.signal };
  };
  const fail = (err: unknown, transport: Transport | null): ProbeFailure => {
    const e = err as SourceReadError;
    return classifyProbeFailure(e.stderr || e.message, target, {
      timedOut: e.timedOut === true || abort.signal.aborted,
      timeoutS: timeoutMs / 1000,
      transport,
    });
  };
  try {
    const order = transportsFor(source, args.transports);
    const failures: { transport: Transport | null; failure: ProbeFailure }[] = [];
    const worked: Transport[] = [];
    let found: { streams: SourceStreams; jpeg: Buffer } | null = null;
    for (const transport of order.length > 0 ? order : [null]) {
      try {
        const { left, open, signal } = step(transport);
        const streams = await probeStreams(probeArgs(source, open) ?? [], left, 'ffprobe', signal);
        if (!found) found = { streams, jpeg: await snapshot(source, transport, step) };
        if (transport) worked.push(transport);
      } catch (err) {
        // Once one transport played, another that fails (or runs out of time) is only left out.
        if (found) continue;
        if (err instanceof CommandError) throw err;
        const failure = fail(err, transport);
        if (failure.final || abort.signal.aborted) throw new CommandError(failure.code, failure.message);
        failures.push({ transport, failure });
      }
    }
    if (!found) throw probeError(failures);
    const { video, audio } = found.streams;
    return {
      codec: video.codec,
      width: video.width,
      height: video.height,
      fps: video.fps,
      transports: worked,
      hasAudio: audio !== null,
      snapshot: { mime: 'image/jpeg', base64: found.jpeg.toString('base64') },
    };
  } finally {
    clearTimeout(timer);
  }
}

/** One frame, at falling quality until it fits the reply. */
async function snapshot(
  source: Source,
  transport: Transport | null,
  step: (t: Transport | null) => Attempt,
): Promise<Buffer> {
  for (const quality of QUALITIES) {
    const { left, open, signal } = step(transport);
    const jpeg = await grabJpeg(inputArgs(source, open).args, {
      timeoutMs: left,
      maxWidth: PROBE_SNAPSHOT_MAX_WIDTH,
      quality,
      signal,
    });
    if (jpeg.length === 0) throw new CommandError(PROBE_ERRORS.noVideo, 'the stream gave no picture');
    if (Math.ceil(jpeg.length / 3) * 4 <= PROBE_SNAPSHOT_MAX_BASE64) return jpeg;
  }
  throw new CommandError(
    PROBE_ERRORS.failed,
    'the picture is too detailed to send even at the lowest quality',
  );
}

function timeoutError(target: ProbeTarget, timeoutMs: number): CommandError {
  const f = classifyProbeFailure('', target, { timedOut: true, timeoutS: timeoutMs / 1000, transport: null });
  return new CommandError(f.code, f.message);
}
