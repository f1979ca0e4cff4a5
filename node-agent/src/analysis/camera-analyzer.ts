/**
 * Detection for one camera: analysis frames in, motion and face events out. Motion runs on
 * every gray frame; faces on frames with motion (inside the moving region, cut from the detail
 * frame), while a face event lasts, and every idleEveryS otherwise; one inference at a time.
 * Each event's best frame becomes a snapshot (faces pixelated first when the camera asks).
 */
import type { EventBox, EventMessage, SnapshotRef } from '@cctv/protocol';
import type { FaceBox, I420Image, Rect } from '@cctv/vision';
import { blurRegions } from '@cctv/vision';
import type { FaceDetector } from '@cctv/vision/faces';
import type { Logger } from 'pino';
import type { ChildExit } from '../process/supervised-child.ts';
import type { DetectSettings } from './detect-settings.ts';
import { EventTracker } from './event-tracker.ts';
import { type AnalysisFrame, type AnalysisPlan, FrameReader } from './frame-reader.ts';
import { MotionDetector, type MotionRegion } from './motion/motion-detector.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export interface AnalyzerHooks {
  onFrame?: (cameraId: string, motionMs: number) => void;
  onInference?: (cameraId: string, ms: number) => void;
  onEvent?: (message: EventMessage) => void;
  onExit?: (cameraId: string, exit: ChildExit) => void;
}

export interface CameraAnalyzerOptions extends AnalyzerHooks {
  cameraId: string;
  settings: DetectSettings;
  plan: () => Promise<AnalysisPlan>;
  /**
   * The face detector shared by all cameras, loaded on first use; null (or resolving to null
   * when the model cannot be loaded) means motion only.
   */
  faces: Promise<FaceDetector | null> | null;
  snapshots: SnapshotStore;
  publish: (message: EventMessage) => void;
  logger: Logger;
}

interface Kept {
  image: I420Image;
  /** Faces known in this frame (image pixels), for privacy blur. */
  faces: Rect[];
}

const copyImage = (img: I420Image): I420Image => ({ ...img, data: img.data.slice() });

const round4 = (n: number) => Math.round(Math.min(1, Math.max(0, n)) * 10_000) / 10_000;
function normBox(r: Rect, w: number, h: number, score?: number): EventBox {
  return {
    x: round4(r.x / w),
    y: round4(r.y / h),
    w: round4(r.width / w),
    h: round4(r.height / h),
    ...(score !== undefined ? { score: round4(score) } : {}),
  };
}

/** The union of the motion regions in detail-frame pixels, grown by half; null for most of the frame. */
export function motionRoi(
  regions: MotionRegion[],
  gray: { width: number; height: number },
  detail: { width: number; height: number },
): Rect | null {
  if (regions.length === 0) return null;
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = 0;
  let y1 = 0;
  for (const r of regions) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  const sx = detail.width / gray.width;
  const sy = detail.height / gray.height;
  const w = (x1 - x0) * sx;
  const h = (y1 - y0) * sy;
  const grow = Math.max(w, h) * 0.25;
  const roi = {
    x: Math.max(0, x0 * sx - grow),
    y: Math.max(0, y0 * sy - grow),
    width: Math.min(detail.width, w + 2 * grow),
    height: Math.min(detail.height, h + 2 * grow),
  };
  // A crop only helps while it is clearly smaller than the frame (faces then fill more of 256 px).
  return roi.width * roi.height > 0.4 * detail.width * detail.height ? null : roi;
}

export class CameraAnalyzer {
  private readonly reader: FrameReader;
  private motion: MotionDetector | null = null;
  private readonly motionEvents: EventTracker<Kept>;
  private readonly faceEvents: EventTracker<Kept>;
  private inferring = false;
  private lastFaceLookAt = 0;
  /** performance.now() before which no search starts: searches take at most faces.maxBusy of the time. */
  private restUntil = 0;
  private lastFrameAt = 0;
  private stopped = false;
  private idleInference: Promise<void> = Promise.resolve();
  private detector: FaceDetector | null = null;

  constructor(private readonly opts: CameraAnalyzerOptions) {
    const s = opts.settings;
    const snapshot = (eventId: string, n: number, frame: Kept, _boxes: EventBox[], at: number) =>
      this.snapshot(eventId, n, frame, at);
    const publish = (m: EventMessage) => {
      opts.onEvent?.(m);
      opts.publish(m);
    };
    this.motionEvents = new EventTracker<Kept>({
      type: 'motion',
      cameraId: opts.cameraId,
      startAfterFrames: 2,
      endAfterMs: s.motion.endAfterS * 1000,
      updateEveryMs: 5000,
      maxDurationMs: 10 * 60_000,
      emit: publish,
      snapshot,
    });
    this.faceEvents = new EventTracker<Kept>({
      type: 'face',
      cameraId: opts.cameraId,
      startAfterFrames: 1,
      endAfterMs: s.faces.endAfterS * 1000,
      updateEveryMs: 2000,
      maxDurationMs: 10 * 60_000,
      emit: publish,
      snapshot,
    });
    void opts.faces?.then((d) => {
      this.detector = d;
    });
    this.reader = new FrameReader({
      name: `analysis ${opts.cameraId}`,
      logger: opts.logger,
      backoff: { initialMs: 1000, maxMs: 30_000 },
      stallAfterMs: Math.max(10_000, (4 / s.fps) * 1000),
      prepare: async () => {
        const plan = await opts.plan();
        if (this.motion?.width !== plan.gray.width || this.motion.height !== plan.gray.height)
          this.motion = new MotionDetector({
            width: plan.gray.width,
            height: plan.gray.height,
            sensitivity: s.motion.sensitivity,
            ...(s.motion.minArea !== undefined ? { minArea: s.motion.minArea } : {}),
            masks: s.motion.masks,
            zones: s.motion.zones,
          });
        else this.motion.reset();
        return plan;
      },
      onFrame: (f) => this.onFrame(f),
      onExit: (exit) => {
        // Frames stopped: running events end where they were last seen.
        if (!exit.expected) this.flush(Date.now());
        opts.onExit?.(opts.cameraId, exit);
      },
    });
  }

  get pid(): number | undefined {
    return this.reader.pid;
  }

  start(): void {
    this.stopped = false;
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reader.stop();
    await this.idleInference;
    this.flush(Date.now());
  }

  private flush(at: number): void {
    this.motionEvents.flush(at);
    this.faceEvents.flush(at);
  }

  private onFrame(f: AnalysisFrame): void {
    const motion = this.motion;
    if (!motion || this.stopped) return;
    this.lastFrameAt = f.at;
    const t0 = performance.now();
    const result = motion.process(f.gray);
    this.opts.onFrame?.(this.opts.cameraId, performance.now() - t0);
    const gw = f.grayWidth;
    const gh = f.grayHeight;
    if (result.motion) {
      this.motionEvents.observe({
        at: f.at,
        boxes: result.regions.map((r) => normBox(r, gw, gh, r.area / (gw * gh))),
        score: result.changedShare,
        zones: [...new Set(result.regions.flatMap((r) => r.zones))],
        capture: () => ({ image: copyImage(f.detail), faces: [] }),
      });
    } else this.motionEvents.idle(f.at);

    const faces = this.opts.settings.faces;
    const detector = this.detector;
    if (!faces.enabled || !detector) return;
    const due =
      result.motion ||
      this.faceEvents.current !== null ||
      (faces.idleEveryS > 0 && f.at - this.lastFaceLookAt >= faces.idleEveryS * 1000);
    const busy = this.inferring || performance.now() < this.restUntil;
    if (!due || busy) {
      if (!busy) this.faceEvents.idle(f.at);
      return;
    }
    // With a face event running, look at the whole frame: a still face makes no motion.
    const roi =
      this.faceEvents.current === null
        ? motionRoi(result.regions, { width: gw, height: gh }, f.detail)
        : null;
    this.lookForFaces(detector, copyImage(f.detail), f.at, roi);
  }

  private lookForFaces(detector: FaceDetector, image: I420Image, at: number, roi: Rect | null): void {
    this.inferring = true;
    this.lastFaceLookAt = at;
    const { minScore, minFaceWidth, maxBusy } = this.opts.settings.faces;
    const began = performance.now();
    // The pyramid search (small faces too) over the moving region, or the whole frame.
    this.idleInference = detector
      .search(image, roi ? { roi, minFaceWidth } : { minFaceWidth })
      .then((found: FaceBox[]) => {
        this.opts.onInference?.(this.opts.cameraId, detector.lastInferenceMs);
        if (this.stopped) return;
        const kept = found.filter((b) => b.score >= minScore);
        if (kept.length === 0) {
          this.faceEvents.idle(at);
          return;
        }
        this.faceEvents.observe({
          at,
          boxes: kept.map((b) => normBox(b, image.width, image.height, b.score)),
          score: Math.max(...kept.map((b) => b.score)),
          capture: () => ({ image, faces: kept }),
        });
      })
      .catch((err: Error) => this.opts.logger.error({ err: err.message }, 'face detection failed'))
      .finally(() => {
        this.inferring = false;
        // A whole-frame search is many model runs: rest in proportion, so that a scene moving
        // everywhere costs maxBusy of the detector's threads, not all of them.
        const now = performance.now();
        this.restUntil = now + (now - began) * (1 / maxBusy - 1);
      });
  }

  private snapshot(eventId: string, n: number, frame: Kept, at: number): SnapshotRef {
    const { image } = frame;
    const blur = this.opts.settings.faces.blurSnapshots;
    const ready = blur ? this.blurred(frame) : Promise.resolve(image);
    const paths = this.opts.snapshots.save(this.opts.cameraId, eventId, n, ready);
    return {
      ...paths,
      at: new Date(at).toISOString(),
      width: image.width,
      height: image.height,
      blurred: blur,
    };
  }

  /** A copy with every face pixelated: the faces known for the frame, and any the detector finds now. */
  private async blurred(frame: Kept): Promise<I420Image> {
    const image = copyImage(frame.image);
    const faces = [...frame.faces];
    const detector = this.detector;
    // The whole frame at every scale, as an export is searched: a face too small for the event
    // search (or outside the moving region) is blurred all the same.
    if (detector) faces.push(...(await detector.search(image)));
    blurRegions(image, faces);
    return image;
  }

  /** Time of the newest analysed frame (0 before the first). */
  get lastFrame(): number {
    return this.lastFrameAt;
  }
}
