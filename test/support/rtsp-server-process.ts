/**
 * A real RTSP server standing in for a camera: `rtsp-server.py` (GStreamer's gst-rtsp-server)
 * started on a free port; the caller says how it is stopped at the end (tests: after the file,
 * through `rtsp-server.ts`; benchmarks: their own cleanup stack). No test runner here. It can be stopped and restarted on the
 * same port, as a camera that reboots. With `source: 'stdin'` it serves what a feed process
 * (typically ffmpeg writing `-f h264 pipe:1`) writes on its stdout; the two run and stop together.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, repoRoot } from './plain.ts';

const script = join(repoRoot, 'test', 'support', 'rtsp-server.py');
// Debian's python3-gi is installed for Debian's Python; a pyenv or venv python3 on PATH lacks it.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface RtspServerOptions {
  /** Mount paths, each a shared media fed by the one source (default `['/stream']`). */
  mounts?: string[];
  codec?: 'h264' | 'h265';
  /**
   * `live`: a moving test pattern encoded live; `file`: `file` served in real time, looped;
   * `stdin`: the Annex-B elementary stream in `codec` that `feed` writes on its stdout, served as
   * it arrives (the feed paces it and decides the keyframes; width, height, fps, gop, bitrate and
   * pattern do not apply). When the feed ends, the server exits with an error.
   */
  source?: 'live' | 'file' | 'stdin';
  /** An MP4 or MKV already encoded in `codec`, for `source: 'file'`. */
  file?: string;
  /**
   * The process whose stdout is the stream, for `source: 'stdin'`, e.g. ffmpeg with
   * `-tune zerolatency -bsf:v h264_metadata=aud=insert -flush_packets 1 -f h264 pipe:1`. Its
   * stdout becomes the server's stdin (no copy through Node). The server holds each frame until
   * the next one starts: one frame interval with access unit delimiters, as there, two without.
   */
  feed?: { command: string; args: string[] };
  width?: number;
  height?: number;
  fps?: number;
  /** Keyframe interval in frames (default two seconds' worth). */
  gop?: number;
  /** Kbit/s. */
  bitrate?: number;
  pattern?: 'ball' | 'smpte';
  /** Lower transports the server accepts; a SETUP asking for another gets 461 (default both). */
  protocols?: ('tcp' | 'udp')[];
  /**
   * Each client its own media, as a camera serves each client its own stream: a client that
   * reads slowly (a starved recorder over TCP) backs up only its own stream. Default: one media
   * shared by every client of a mount, which a slow TCP client holds back for all.
   */
  perClient?: boolean;
  /**
   * What the feed writes (source `stdin`): an Annex-B elementary stream, which the server can
   * close a frame of only once the next one starts (a frame interval with access unit
   * delimiters, two without), or MPEG-TS with the video PES lengths written (ffmpeg
   * `-omit_video_pes_length 0`), each frame passed on as soon as it is in, as a camera does.
   */
  stdinFormat?: 'annexb' | 'mpegts';
  /**
   * Every mount asks for this user name and password (HTTP Basic by default, or Digest); a client
   * without them, or with others, gets 401 Unauthorized. Default: no password.
   */
  auth?: { user: string; password: string; method?: 'basic' | 'digest' };
  host?: string;
  /** Default: a free port. */
  port?: number;
  readyTimeoutMs?: number;
}

export interface RtspServer {
  /** The first mount's URL. */
  readonly url: string;
  readonly urls: string[];
  readonly port: number;
  /** The current process, undefined while stopped. */
  readonly pid: number | undefined;
  /** The current feed process (`source: 'stdin'`), undefined while stopped or without a feed. */
  readonly feedPid: number | undefined;
  /** Everything the current process printed on stderr (its last 20,000 characters). */
  stderr(): string;
  /** The same for the current feed process; empty without one. */
  feedStderr(): string;
  /**
   * Resolves once the process (and its feed) has exited; SIGKILL emulates a crash rather than a
   * clean stop.
   */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server (and its feed) if it runs and starts both again on the same port. */
  restart(): Promise<void>;
}

export class RtspServerUnavailableError extends Error {
  readonly code = 'RTSP_SERVER_UNAVAILABLE';
}

let availability: Promise<void> | undefined;

/** Rejects with a clear message (the Debian packages to install) when the server cannot run here. */
export function ensureRtspServerAvailable(): Promise<void> {
  availability ??= new Promise<void>((resolve, reject) => {
    execFile(python, [script, '--check'], { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      reject(
        new RtspServerUnavailableError(
          `the test RTSP server cannot run: ${stderr.trim() || err.message}\n` +
            'node scripts/bootstrap.mjs --test installs the Debian packages it needs',
        ),
      );
    });
  });
  return availability;
}

function scriptArgs(opts: RtspServerOptions, host: string, port: number): string[] {
  const args = ['--port', String(port), '--host', host, '--exit-with-parent'];
  for (const m of opts.mounts ?? ['/stream']) args.push('--mount', m);
  const flags: [string, string | number | undefined][] = [
    ['--codec', opts.codec],
    ['--source', opts.source],
    ['--file', opts.file],
    ['--width', opts.width],
    ['--height', opts.height],
    ['--fps', opts.fps],
    ['--gop', opts.gop],
    ['--bitrate', opts.bitrate],
    ['--pattern', opts.pattern],
    ['--protocols', opts.protocols?.join(',')],
    ['--stdin-format', opts.stdinFormat],
    ['--user', opts.auth?.user],
    ['--password', opts.auth?.password],
    ['--auth', opts.auth?.method],
  ];
  for (const [flag, value] of flags) if (value !== undefined) args.push(flag, String(value));
  if (opts.perClient) args.push('--per-client');
  return args;
}

const running = (c: ChildProcess | undefined): c is ChildProcess =>
  c !== undefined && c.exitCode === null && c.signalCode === null;

/** Resolves once `c` has exited: `signal` first, SIGKILL after 5 s. */
function kill(c: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!running(c)) return resolve();
    const force = setTimeout(() => c.kill('SIGKILL'), 5_000);
    c.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    c.kill(signal);
  });
}

/** Starts the server and waits for it to listen; `onCleanup` gets how to stop it at the end. */
export async function launchRtspServer(
  opts: RtspServerOptions,
  onCleanup: (stop: () => Promise<void>) => void,
): Promise<RtspServer> {
  if ((opts.source === 'stdin') !== (opts.feed !== undefined))
    throw new Error("launchRtspServer: `feed` goes with `source: 'stdin'`, and only with it");
  await ensureRtspServerAvailable();
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const args = scriptArgs(opts, host, port);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  let child: ChildProcess | undefined;
  let feed: ChildProcess | undefined;
  let stderr = '';
  let feedStderr = '';
  let urls: string[] = [];

  // Both at once: either one alone would end the other anyway (end of stdin, or EPIPE), but
  // only after a visible error.
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    await Promise.all([kill(child, signal), kill(feed, signal === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM')]);
  };

  /** The feed, its stdout ready to become the server's stdin. */
  const startFeed = (command: string, feedArgs: string[]) => {
    feedStderr = '';
    const f = spawn(command, feedArgs, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    feed = f;
    // A feed that cannot be spawned reports here; the server then sees an empty stdin and fails.
    f.on('error', (err) => {
      feedStderr += `\n${err.message}`;
    });
    f.stderr?.on('data', (b: Buffer) => {
      feedStderr = (feedStderr + b.toString()).slice(-20_000);
    });
    return f;
  };

  const start = () =>
    new Promise<void>((resolve, reject) => {
      stderr = '';
      const f = opts.feed ? startFeed(opts.feed.command, opts.feed.args) : undefined;
      const c = spawn(python, [script, ...args], {
        cwd: repoRoot,
        stdio: [f?.stdout ?? 'ignore', 'pipe', 'pipe'],
      });
      // The server holds its own copy of the pipe now; Node must not read from it too. Closed in
      // the same tick as the spawns, before the event loop could read a byte.
      f?.stdout?.destroy();
      child = c;
      c.stderr?.on('data', (b: Buffer) => {
        stderr = (stderr + b.toString()).slice(-20_000);
      });
      const fail = (why: string) => {
        clearTimeout(timer);
        c.off('exit', onExit);
        const feedTail = f ? `\n--- feed stderr ---\n${feedStderr.slice(-4000)}` : '';
        // A server that did not come up must not leave its feed behind.
        if (f) void kill(f, 'SIGKILL');
        reject(
          new Error(`RTSP server on port ${port} ${why}\n--- stderr ---\n${stderr.slice(-4000)}${feedTail}`),
        );
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        // stderr may still be in flight when the process is already gone.
        setImmediate(() => fail(`exited (${code ?? signal}) before it was ready`));
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        fail(`not ready after ${readyTimeoutMs} ms`);
      }, readyTimeoutMs);
      c.once('exit', onExit);
      const lines = createInterface({ input: c.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (!line.startsWith('READY ')) return;
        clearTimeout(timer);
        c.off('exit', onExit);
        urls = line.slice('READY '.length).trim().split(/\s+/);
        resolve();
      });
    });

  onCleanup(() => stop('SIGKILL'));
  await start();
  return {
    get url() {
      return urls[0] ?? '';
    },
    get urls() {
      return urls;
    },
    port,
    get pid() {
      return running(child) ? child.pid : undefined;
    },
    get feedPid() {
      return running(feed) ? feed.pid : undefined;
    },
    stderr: () => stderr,
    feedStderr: () => feedStderr,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
