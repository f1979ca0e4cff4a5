/**
 * One camera's MPEG-1 muxer for the jsmpeg fallback: node-rtsp-stream's Mpeg1Muxer (one ffmpeg
 * writing MPEG-TS to stdout), optionally fed on stdin by a second process. Both are killed
 * together and `stop()` resolves once both have exited.
 *
 * It is not a SupervisedChild on purpose: a live view needs no restarts with backoff. When the
 * source ends the viewers are told (close 4001) and the player asks for a new ticket.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/** How ffmpeg reads a camera for live view. `url` is the single `-i` argument. When `feeder` is set, its stdout is piped into the muxer's stdin and `url` is 'pipe:0' (used for sources needing input options: RTSP over a chosen transport, lavfi test patterns). */
export interface LiveInput {
  url: string;
  feeder?: { command: string; args: string[] };
}

/** The part of node-rtsp-stream's CJS Mpeg1Muxer we use (the package ships no types). */
interface Mpeg1Muxer extends EventEmitter {
  /** The ffmpeg child, spawned in the constructor with default stdio (three pipes). */
  readonly stream: ChildProcessWithoutNullStreams;
  on(event: 'mpeg1data' | 'ffmpegStderr', listener: (chunk: Buffer) => void): this;
  on(event: 'exitWithError', listener: () => void): this;
}
type Mpeg1MuxerClass = new (options: {
  url: string;
  ffmpegOptions: Record<string, string>;
  ffmpegPath: string;
}) => Mpeg1Muxer;

const Mpeg1Muxer = createRequire(import.meta.url)('node-rtsp-stream/mpeg1muxer.js') as Mpeg1MuxerClass;

/** MPEG-1 allows only these picture rates; anything else makes the encoder refuse to open. */
const MPEG1_RATES = [24, 25, 30, 50, 60];

export interface EncodeSettings {
  bitrateKbps: number;
  maxWidth: number;
  fps: number;
}

/**
 * Output options for Mpeg1Muxer, which places them after `-i` (so they are output options) as
 * flat key/value pairs in insertion order; '' means a flag without a value.
 */
export function muxerOptions(s: EncodeSettings): Record<string, string> {
  const fps = Math.max(1, Math.min(60, Math.round(s.fps)));
  const width = Math.max(2, Math.floor(s.maxWidth / 2) * 2);
  // A rate MPEG-1 lacks (15, 10, …) is produced by the fps filter while the stream declares a
  // legal rate; mpegts is a variable-rate muxer, so ffmpeg does not duplicate frames back up.
  const declared = MPEG1_RATES.find((r) => r >= fps) ?? 60;
  return {
    '-loglevel': 'warning',
    // ffmpeg would otherwise watch stdin for key presses; with a feeder stdin is the video.
    '-nostdin': '',
    // No audio: mp2 at jsmpeg's usual 128k would double what a low-bandwidth fallback sends.
    '-an': '',
    // Caps the width, keeps the aspect, keeps both dimensions even (4:2:0 needs it).
    '-vf': `fps=${fps},scale='trunc(min(iw,${width})/2)*2':-2`,
    '-r': String(declared),
    '-b:v': `${Math.round(s.bitrateKbps)}k`,
    // JSMpeg decodes no B-frames.
    '-bf': '0',
  };
}

export interface MuxerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** False when it ended without stop(): the source ended or failed. */
  expected: boolean;
  stderrTail: string[];
}

export interface MuxerRunOptions {
  input: LiveInput;
  settings: EncodeSettings;
  ffmpegPath: string;
  logger: Logger;
  onData: (chunk: Buffer) => void;
  onExit: (exit: MuxerExit) => void;
}

const KILL_AFTER_MS = 3000;
const TAIL_LINES = 12;

export class MuxerRun {
  private readonly muxer: Mpeg1Muxer;
  private readonly feeder: ChildProcess | null = null;
  private readonly exited: Promise<void>;
  private readonly tail: string[] = [];
  private stopping = false;

  constructor(private readonly opts: MuxerRunOptions) {
    const { input, logger } = opts;
    this.muxer = new Mpeg1Muxer({
      url: input.url,
      ffmpegOptions: muxerOptions(opts.settings),
      ffmpegPath: opts.ffmpegPath,
    });
    const ffmpeg = this.muxer.stream;
    // Mpeg1Muxer's own exit listener only console.error()s on code 1; we log exits ourselves.
    ffmpeg.removeAllListeners('exit');
    // Mpeg1Muxer listens for nothing but data and exit; a failed spawn would otherwise throw.
    ffmpeg.on('error', (err) => logger.error({ err }, 'jsmpeg ffmpeg failed to start'));
    // EPIPE when ffmpeg dies while the feeder still writes: its exit is reported, not this.
    ffmpeg.stdin.on('error', (err) => logger.debug({ err }, 'jsmpeg ffmpeg stdin closed'));
    this.muxer.on('mpeg1data', (chunk) => opts.onData(chunk));
    this.muxer.on('ffmpegStderr', (chunk) => this.keepTail('ffmpeg', chunk));
    const waits = [exitOf(ffmpeg)];
    if (input.feeder) {
      const feeder = spawn(input.feeder.command, input.feeder.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.feeder = feeder;
      feeder.on('error', (err) => logger.error({ err }, 'jsmpeg feeder failed to start'));
      feeder.stdout?.on('error', (err) => logger.debug({ err }, 'jsmpeg feeder stdout failed'));
      feeder.stderr?.on('data', (chunk: Buffer) => this.keepTail('feeder', chunk));
      feeder.stdout?.pipe(ffmpeg.stdin);
      waits.push(exitOf(feeder));
      // Either one ending leaves the other useless. The muxer gets EOF when the feeder ends
      // and first sends what it still holds, so it is only killed if it lingers.
      void waits[1]?.then(() => this.kill(ffmpeg, KILL_AFTER_MS));
      void waits[0]?.then(() => this.kill(feeder));
    }
    // No setpriv here: Mpeg1Muxer spawns ffmpeg itself. If the agent dies, ffmpeg's stdout and
    // the feeder's pipe break, and both exit on EPIPE.
    logger.info(
      { pid: ffmpeg.pid, feederPid: this.feeder?.pid, url: redact(input.url) },
      'jsmpeg muxer started',
    );
    this.exited = Promise.all(waits).then(() => {
      const exit: MuxerExit = {
        code: ffmpeg.exitCode,
        signal: ffmpeg.signalCode,
        expected: this.stopping,
        stderrTail: [...this.tail],
      };
      if (exit.expected) logger.info({ code: exit.code, signal: exit.signal }, 'jsmpeg muxer stopped');
      else logger.warn({ ...exit }, 'jsmpeg muxer ended by itself');
      opts.onExit(exit);
    });
  }

  /** The ffmpeg muxer's pid (undefined when it could not be spawned). */
  get pid(): number | undefined {
    return this.muxer.stream.pid;
  }

  get feederPid(): number | undefined {
    return this.feeder?.pid;
  }

  /** Kills both processes; resolves when both have exited. */
  stop(): Promise<void> {
    this.stopping = true;
    this.kill(this.muxer.stream);
    if (this.feeder) this.kill(this.feeder);
    return this.exited;
  }

  /** SIGTERM after `graceMs`, SIGKILL if it is still there KILL_AFTER_MS later. */
  private kill(child: ChildProcess, graceMs = 0): void {
    const gone = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
    if (gone()) return;
    const timers = [
      setTimeout(() => gone() || child.kill('SIGTERM'), graceMs),
      setTimeout(() => gone() || child.kill('SIGKILL'), graceMs + KILL_AFTER_MS),
    ];
    for (const timer of timers) timer.unref();
    child.once('exit', () => {
      for (const timer of timers) clearTimeout(timer);
    });
  }

  private keepTail(who: 'ffmpeg' | 'feeder', chunk: Buffer): void {
    for (const line of chunk.toString().split(/\r?\n|\r/)) {
      if (!line.trim()) continue;
      this.opts.logger.debug({ who, line }, 'jsmpeg stderr');
      this.tail.push(`${who}: ${line}`);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
  }
}

/**
 * Resolves when the child has exited and its pipes are drained ('close', not 'exit': the last
 * MPEG-TS chunks may still be unread at 'exit'), or as soon as it fails to start.
 */
function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    // Node may emit no 'exit' after a failed spawn.
    child.once('error', () => {
      if (child.pid === undefined) resolve();
    });
  });
}

/** Camera URLs carry credentials; logs must not. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}
