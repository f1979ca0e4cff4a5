/**
 * Why ffprobe or ffmpeg could not read a camera URL, from what they printed on stderr: one of
 * `PROBE_ERRORS` with a message a user can act on. Messages name the host and path, never the
 * password (ffmpeg prints the URL as given, so its own lines are redacted before use).
 */
import { PROBE_ERRORS, type ProbeErrorCode, redactCredentials } from '@cctv/protocol';
import type { Transport } from '../recorder/source.ts';
import { CommandError } from './config-command.ts';

export interface ProbeFailure {
  code: ProbeErrorCode;
  message: string;
  /** The same answer whatever the transport (the camera answered DESCRIBE, or never could). */
  final: boolean;
}

/** What a failure message may say of the URL; `secrets` are redacted from ffmpeg's own lines. */
export interface ProbeTarget {
  /** `host:port` as written in the URL. */
  host: string;
  path: string;
  hasUser: boolean;
  secrets: string[];
}

export function probeTarget(url: URL): ProbeTarget {
  const secrets = url.password ? [url.password] : [];
  return { host: url.host, path: url.pathname || '/', hasUser: url.username !== '', secrets };
}

function timeoutFailure(t: ProbeTarget, timeoutS: number): Omit<ProbeFailure, 'final'> {
  return { code: PROBE_ERRORS.timeout, message: `no answer from ${t.host} within ${timeoutS} s` };
}

const RULES: { test: RegExp; failure: (t: ProbeTarget, timeoutS: number) => Omit<ProbeFailure, 'final'> }[] =
  [
    {
      test: /401 unauthorized|authorization failed/i,
      failure: (t) => ({
        code: PROBE_ERRORS.authFailed,
        message: t.hasUser
          ? `the camera at ${t.host} refused the user name or password`
          : `the camera at ${t.host} asks for a user name and password`,
      }),
    },
    {
      test: /403 forbidden/i,
      failure: (t) => ({
        code: PROBE_ERRORS.authFailed,
        message: `the camera at ${t.host} does not let this user open ${t.path} (403 Forbidden)`,
      }),
    },
    {
      test: /404 not found|stream not found/i,
      failure: (t) => ({
        code: PROBE_ERRORS.notFound,
        message: `the camera at ${t.host} has no stream at ${t.path} (404 Not Found): check the path`,
      }),
    },
    {
      test: /connection refused/i,
      failure: (t) => ({
        code: PROBE_ERRORS.unreachable,
        message: `${t.host} refused the connection: nothing answers on that port`,
      }),
    },
    {
      test: /failed to resolve|name or service not known|temporary failure in name resolution|no address associated/i,
      failure: (t) => ({
        code: PROBE_ERRORS.unreachable,
        message: `the host name in ${t.host} is unknown to this node (DNS)`,
      }),
    },
    {
      test: /no route to host|network is unreachable|host is unreachable/i,
      failure: (t) => ({ code: PROBE_ERRORS.unreachable, message: `this node has no route to ${t.host}` }),
    },
    { test: /timed out/i, failure: timeoutFailure },
    {
      test: /no video stream found|does not contain any stream|output file #0 does not contain/i,
      failure: (t) => ({
        code: PROBE_ERRORS.noVideo,
        message: `the stream at ${t.host}${t.path} has no video`,
      }),
    },
  ];

/** Codes that do not depend on the transport: trying another would only repeat them. */
const FINAL: ReadonlySet<ProbeErrorCode> = new Set([
  PROBE_ERRORS.authFailed,
  PROBE_ERRORS.notFound,
  PROBE_ERRORS.unreachable,
  PROBE_ERRORS.noVideo,
]);

/** Classifies ffmpeg's stderr (or a timeout) into a probe failure. */
export function classifyProbeFailure(
  stderr: string,
  target: ProbeTarget,
  opts: { timedOut: boolean; timeoutS: number; transport: Transport | null },
): ProbeFailure {
  const done = (f: Omit<ProbeFailure, 'final'>): ProbeFailure => ({ ...f, final: FINAL.has(f.code) });
  if (opts.timedOut) return done(timeoutFailure(target, opts.timeoutS));
  if (/461 unsupported transport/i.test(stderr))
    return done({
      code: PROBE_ERRORS.failed,
      message: `the camera at ${target.host} does not offer RTSP over ${(opts.transport ?? 'tcp').toUpperCase()}`,
    });
  for (const rule of RULES) if (rule.test.test(stderr)) return done(rule.failure(target, opts.timeoutS));
  const line = stderr.trim().split('\n').at(-1)?.trim() || 'no reason given';
  return done({
    code: PROBE_ERRORS.failed,
    message: `the stream at ${target.host} could not be read: ${redactCredentials(line, target.secrets).slice(0, 300)}`,
  });
}

/** Several transports failed: the most telling failure, each transport's reason in the message. */
export function probeError(failures: { transport: Transport | null; failure: ProbeFailure }[]): CommandError {
  const rank = [PROBE_ERRORS.noVideo, PROBE_ERRORS.timeout, PROBE_ERRORS.failed];
  const [first] = [...failures].sort((a, b) => rankOf(rank, a.failure.code) - rankOf(rank, b.failure.code));
  if (!first) return new CommandError(PROBE_ERRORS.failed, 'nothing was tried');
  if (failures.length === 1) return new CommandError(first.failure.code, first.failure.message);
  const each = failures.map((f) => `over ${(f.transport ?? 'tcp').toUpperCase()}: ${f.failure.message}`);
  return new CommandError(first.failure.code, each.join('; '));
}

function rankOf(rank: string[], code: string): number {
  const i = rank.indexOf(code);
  return i < 0 ? rank.length : i;
}
