/**
 * Prepares each ffmpeg run of one camera: probes the source (RTSP transports in order, the one
 * that last worked first), decides copy versus encode (codec-policy.ts), and builds the input
 * and encode arguments. What it decided goes into hello's camera entry and the logs.
 */
import type { CameraInfo } from '@cctv/protocol';
import type { CameraConfig } from '../config.ts';
import type { StreamInfo } from '../host/ffmpeg-info.ts';
import { PrepareError } from '../process/supervised-child.ts';
import { type CodecDecision, decideCodec, type HevcEncoderChoice } from './codec-policy.ts';
import type { EncodeWatchSettings } from './encode-watch.ts';
import {
  inputArgs,
  parseSource,
  probeArgs,
  redactUrl,
  type Source,
  type Transport,
  transportsFor,
} from './source.ts';
import { type TransportMemory, transportOrder } from './transport-memory.ts';

/** One run's inputs for ffmpeg, and what hello says about them. */
export interface PreparedRun {
  inputArgs: string[];
  /** A command whose stdout feeds ffmpeg's stdin (the Pi camera), run in one pipeline. */
  feeder?: { command: string; args: string[] };
  encodeArgs: string[];
  transport: Transport | null;
  outputCodec: 'hevc' | 'h264';
  info: CameraInfo;
  /** A software encode that falls back to a copy when it cannot keep up: how it is judged. */
  watch?: EncodeWatchSettings;
  /** This run copies because the encode could not keep up: why (heartbeat, fleet page). */
  fallback?: string;
}

export interface RecordingSettings {
  segmentSeconds: number;
  probeTimeoutS: number;
  /** ffmpeg gives up a silent network source after this long (then the supervisor restarts it). */
  readTimeoutS: number;
  hevcEncoder: HevcEncoderChoice;
  x265Preset: string;
  hwEncoders: string[];
  /** How a libx265 encode is watched; absent: never replaced by a copy. */
  x265Watch?: EncodeWatchSettings;
}

export interface PlanDeps {
  probe: (input: string[], timeoutMs: number) => Promise<StreamInfo>;
  memory: TransportMemory;
  /** Which Pi camera tool is installed (rpicam-vid, or libcamera-vid on older systems). */
  piCameraCommand: () => Promise<string | null>;
  now?: () => number;
}

/** Every camera's planner answers these for the recorder. */
export interface CameraPlanner {
  readonly id: string;
  readonly name: string;
  prepare(): Promise<PreparedRun>;
  /** A run ended; `produced` says whether it finished at least one segment. */
  runEnded(produced: boolean): void;
  /** A run finished its first segment: what it used worked. */
  runProduced(): void;
  /** A run finished another segment. */
  footage(): void;
  /** What hello reports now (the last decision, or what is known before the first). */
  info(): CameraInfo;
  /**
   * The running software encode cannot keep up (why): true when the next run will not encode
   * (the recorder then replaces the run at once), false when there is nothing to fall back to.
   */
  encodeOverloaded?(why: string): boolean;
}

export class SourcePlanner implements CameraPlanner {
  readonly id: string;
  readonly name: string;
  private readonly source: Source;
  private readonly transports: Transport[];
  private current: PreparedRun | null = null;
  private lastError: string | null = null;
  /** Transports that ended a run without footage since the last one that produced. */
  private readonly failedTransports = new Set<Transport>();
  private hwFailed = false;
  /**
   * libx265 could not keep up on this camera (why). Kept for the planner's life (the agent's
   * process, or until the camera is reconfigured): a host too slow for the encode stays so.
   */
  private softwareOverloaded: string | null = null;
  /** The probe the current plan came from, to rebuild it without probing again. */
  private probed: { stream: StreamInfo; transport: Transport | null } | null = null;
  private rebuild = false;
  /** When this camera last delivered footage (ms), for reusing the plan that worked. */
  private lastFootageAt: number | null = null;
  /** Whether the current run's plan came from a fresh probe (vs. a reused one). */
  private fromProbe = false;
  private readonly reuseWindowMs = 30_000;

  constructor(
    private readonly cam: CameraConfig,
    private readonly settings: RecordingSettings,
    private readonly deps: PlanDeps,
  ) {
    this.id = cam.id;
    this.name = cam.name;
    this.source = parseSource(cam.url);
    this.transports = transportsFor(this.source, cam.transports);
  }

  /** Transports to try now: remembered first, those that just failed last. */
  private order(): (Transport | null)[] {
    if (this.transports.length === 0) return [null];
    const base = transportOrder(this.transports, this.deps.memory.get(this.id, this.cam.url));
    const fresh = base.filter((t) => !this.failedTransports.has(t));
    const failed = base.filter((t) => this.failedTransports.has(t));
    if (fresh.length === 0) this.failedTransports.clear();
    return [...fresh, ...failed];
  }

  async prepare(): Promise<PreparedRun> {
    // Shortly after footage, retry at once with the plan that worked: a camera that rebooted
    // comes back as it was, and probing first would add seconds to the gap in the footage.
    // Past the window (or once a reused plan met a camera that answered but gave nothing),
    // every attempt probes again.
    const now = this.deps.now?.() ?? Date.now();
    if (this.rebuild && this.probed) {
      // The codec changed on a running camera: no probe, the next run must start at once.
      this.rebuild = false;
      this.current = await this.build(this.probed.stream, this.probed.transport);
      this.fromProbe = false;
      return this.current;
    }
    if (this.current && this.lastFootageAt !== null && now - this.lastFootageAt <= this.reuseWindowMs) {
      this.fromProbe = false;
      return this.current;
    }
    const errors: string[] = [];
    for (const transport of this.order()) {
      let stream: StreamInfo;
      try {
        stream = await this.probe(transport);
      } catch (err) {
        errors.push(`${transport ? `${transport.toUpperCase()}: ` : ''}${(err as Error).message}`);
        continue;
      }
      this.current = await this.build(stream, transport);
      this.probed = { stream, transport };
      this.fromProbe = true;
      this.lastError = null;
      return this.current;
    }
    this.lastError = `unreachable: ${errors.join('; ')}`.slice(0, 300);
    throw new PrepareError(this.lastError);
  }

  private async probe(transport: Transport | null): Promise<StreamInfo> {
    const s = this.source;
    const open = { transport: transport ?? undefined, timeoutS: this.settings.probeTimeoutS, gop: 1 };
    const args = probeArgs(s, open);
    if (args) return this.deps.probe(args, this.settings.probeTimeoutS * 1000 + 2000);
    if (s.kind !== 'rpicam') throw new Error('nothing to probe');
    if (!(await this.deps.piCameraCommand()))
      throw new Error('neither rpicam-vid nor libcamera-vid is installed');
    return { codec: 'h264', width: s.width, height: s.height, fps: s.fps };
  }

  private async build(stream: StreamInfo, transport: Transport | null): Promise<PreparedRun> {
    const fps = stream.fps > 0 && stream.fps <= 120 ? stream.fps : 25;
    const gop = Math.max(1, Math.round(this.settings.segmentSeconds * fps));
    const decision: CodecDecision = decideCodec({
      sourceCodec: stream.codec,
      width: stream.width,
      height: stream.height,
      fps,
      target: this.cam.record?.codec ?? 'hevc',
      hwEncoders: this.settings.hwEncoders,
      encoder: this.settings.hevcEncoder,
      hwFailed: this.hwFailed,
      gop,
      x265Preset: this.settings.x265Preset,
      softwareOverloaded: this.softwareOverloaded,
    });
    const watch = decision.canFallBack ? this.settings.x265Watch : undefined;
    const input = inputArgs(this.source, {
      transport: transport ?? undefined,
      timeoutS: this.settings.readTimeoutS,
      gop,
    });
    let feeder = input.feeder;
    if (feeder) feeder = { ...feeder, command: (await this.deps.piCameraCommand()) ?? feeder.command };
    const via = transport ? ` over RTSP/${transport.toUpperCase()}` : '';
    return {
      inputArgs: input.args,
      ...(feeder ? { feeder } : {}),
      encodeArgs: decision.args,
      transport,
      outputCodec: decision.outputCodec,
      ...(watch ? { watch } : {}),
      ...(decision.fallback ? { fallback: decision.fallback.slice(0, 300) } : {}),
      info: {
        id: this.id,
        name: this.name,
        codec: stream.codec,
        width: stream.width,
        height: stream.height,
        fps: stream.fps,
        simulated: false,
        recording: {
          mode: decision.mode,
          encoder: decision.encoder,
          reason: `${decision.reason}${via}`.slice(0, 300),
        },
      },
    };
  }

  runEnded(produced: boolean): void {
    const run = this.current;
    if (!run || produced || !this.fromProbe) return;
    // The camera answered the probe over this transport but recording over it gave nothing:
    // the next probe tries the other transport first.
    if (run.transport) this.failedTransports.add(run.transport);
    // A hardware encoder that could not finish one segment is not tried again on this camera.
    if (run.info.recording.encoder === 'hevc_v4l2m2m') this.hwFailed = true;
  }

  encodeOverloaded(why: string): boolean {
    if (!this.current?.watch || !this.probed) return false;
    this.softwareOverloaded = why;
    this.rebuild = true;
    return true;
  }

  runProduced(): void {
    const run = this.current;
    if (!run) return;
    this.lastFootageAt = this.deps.now?.() ?? Date.now();
    this.failedTransports.clear();
    if (run.transport) void this.deps.memory.remember(this.id, this.cam.url, run.transport);
  }

  /** The run in progress delivered another segment. */
  footage(): void {
    this.lastFootageAt = this.deps.now?.() ?? Date.now();
  }

  info(): CameraInfo {
    if (this.current) return this.current.info;
    return {
      id: this.id,
      name: this.name,
      codec: 'unknown',
      width: 0,
      height: 0,
      fps: 0,
      simulated: false,
      recording: {
        mode: 'transcode',
        encoder: 'none',
        reason: (this.lastError ?? `not probed yet (${redactUrl(this.cam.url)})`).slice(0, 300),
      },
    };
  }
}

/** The full ffmpeg argument list for one run writing fMP4 HLS into the camera's spool folder. */
export function ffmpegArgs(
  run: Pick<PreparedRun, 'inputArgs' | 'encodeArgs'>,
  out: { dir: string; playlist: string; init: string; segmentPattern: string },
  segmentSeconds: number,
): string[] {
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'warning',
    // key=value progress blocks on stdout every second: the stall watchdog's heartbeat
    '-progress',
    'pipe:1',
    '-stats_period',
    '1',
    '-y',
    ...run.inputArgs,
    '-map',
    '0:v:0',
    '-an',
    ...run.encodeArgs,
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
