/**
 * The analysis stream of one camera: one supervised ffmpeg decodes the substream (or the main
 * stream) at a low rate and writes two raw outputs per frame, a small grayscale frame for
 * motion on stdout and a larger YUV 4:2:0 "detail" frame for faces and snapshots on fd 3.
 * The two are paired by index and handed over together. Recording never waits on this
 * process: it is separate from the recorder's ffmpeg, so a slow analysis cannot stall footage.
 */

import type { I420Image } from '@cctv/vision';
import type { Logger } from 'pino';
import type { BackoffPolicy } from '../process/backoff.ts';
import { type ChildExit, SupervisedChild } from '../process/supervised-child.ts';
import { FrameAssembler } from './frame-assembler.ts';

/** What one run decodes: how to open the source, and the two output sizes. */
export interface AnalysisPlan {
  inputArgs: string[];
  fps: number;
  gray: { width: number; height: number };
  detail: { width: number; height: number };
}

export interface AnalysisFrame {
  /** Frame number within the current ffmpeg run. */
  index: number;
  /** Wall-clock time the frame was read (ms since the epoch). */
  at: number;
  /** width*height luma bytes; valid only during the onFrame call. */
  gray: Uint8Array;
  grayWidth: number;
  grayHeight: number;
  /** Valid until four more frames have arrived; copy to keep it longer. */
  detail: I420Image;
}

export interface FrameReaderOptions {
  name: string;
  prepare: () => Promise<AnalysisPlan>;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** Restart when no frame came for this long. */
  stallAfterMs?: number;
  onFrame: (frame: AnalysisFrame) => void;
  onExit?: (exit: ChildExit) => void;
}

/** ffmpeg's arguments for one analysis run. */
export function analysisArgs(plan: AnalysisPlan): string[] {
  const { gray, detail } = plan;
  const graph =
    `[0:v]fps=${plan.fps},split=2[m][d];` +
    `[m]scale=${gray.width}:${gray.height}:flags=area,format=gray[mo];` +
    `[d]scale=${detail.width}:${detail.height}:flags=bilinear,format=yuv420p[do]`;
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'error',
    // One decoder thread: the analysis stream is small, and threads cost wake-ups.
    '-threads',
    '1',
    ...plan.inputArgs,
    '-an',
    '-sn',
    '-dn',
    '-filter_complex_threads',
    '1',
    '-filter_complex',
    graph,
    '-map',
    '[mo]',
    '-f',
    'rawvideo',
    'pipe:1',
    '-map',
    '[do]',
    '-f',
    'rawvideo',
    'pipe:3',
  ];
}

/** Largest even size within max that keeps the source's aspect ratio (never upscaled). */
export function fitWithin(
  source: { width: number; height: number },
  max: { width: number; height: number },
): { width: number; height: number } {
  const scale = Math.min(1, max.width / source.width, max.height / source.height);
  const even = (n: number) => Math.max(2, Math.floor(n / 2) * 2);
  return { width: even(source.width * scale), height: even(source.height * scale) };
}

const RING = 6;

export class FrameReader {
  private readonly child: SupervisedChild;
  private plan: AnalysisPlan | null = null;
  private grayAsm: FrameAssembler | null = null;
  private detailAsm: FrameAssembler | null = null;
  private readonly grays: Uint8Array[] = [];
  private readonly details: Uint8Array[] = [];
  private emitted = 0;

  constructor(private readonly opts: FrameReaderOptions) {
    this.child = new SupervisedChild({
      name: opts.name,
      logger: opts.logger,
      quitKey: 'q',
      graceMs: 1000,
      killAfterMs: 3000,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      stallAfterMs: opts.stallAfterMs ?? 15_000,
      prepare: async () => {
        const plan = await opts.prepare();
        this.setPlan(plan);
        return { command: 'ffmpeg', args: analysisArgs(plan) };
      },
      onOutput: (fd, chunk) => (fd === 1 ? this.grayAsm : this.detailAsm)?.push(chunk),
      ...(opts.onExit ? { onExit: opts.onExit } : {}),
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private setPlan(plan: AnalysisPlan): void {
    this.plan = plan;
    this.emitted = 0;
    this.grays.length = 0;
    this.details.length = 0;
    const { gray, detail } = plan;
    // The gray pipe can run a frame or two ahead of the detail pipe; the rings leave room.
    this.grayAsm = new FrameAssembler(
      gray.width * gray.height,
      (f, i) => {
        this.grays[i % RING] = f;
        this.emitReady();
      },
      RING,
    );
    this.detailAsm = new FrameAssembler(
      (detail.width * detail.height * 3) / 2,
      (f, i) => {
        this.details[i % RING] = f;
        this.emitReady();
      },
      RING,
    );
  }

  private emitReady(): void {
    const plan = this.plan;
    if (!plan || !this.grayAsm || !this.detailAsm) return;
    const ready = Math.min(this.grayAsm.frames, this.detailAsm.frames);
    while (this.emitted < ready) {
      const index = this.emitted++;
      const gray = this.grays[index % RING];
      const detail = this.details[index % RING];
      if (!gray || !detail) continue;
      this.child.alive();
      if (index === 0) this.child.resetBackoff();
      this.opts.onFrame({
        index,
        at: Date.now(),
        gray,
        grayWidth: plan.gray.width,
        grayHeight: plan.gray.height,
        detail: { width: plan.detail.width, height: plan.detail.height, data: detail },
      });
    }
  }

  start(): void {
    this.child.start();
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
