/**
 * Face detection on the node: MediaPipe's BlazeFace back-camera model (256×256) through
 * onnxruntime-node; anchors decoded and suppressed here, in TypeScript (decode.ts, nms.ts).
 */
import { access } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { anchorCentres, BLAZEFACE_BACK_LAYERS } from './anchors.ts';
import { decodeHead } from './decode.ts';
import { weightedNms } from './nms.ts';
import { assertI420, I420Sampler, type SourceSquare } from './preprocess.ts';
import { type FaceBox, FaceDetectorError, type I420Image, type Rect } from './types.ts';

export { anchorCentres, BLAZEFACE_BACK_LAYERS } from './anchors.ts';
export { decodeHead, sigmoidScore } from './decode.ts';
export { iou, weightedNms } from './nms.ts';
export { I420Sampler } from './preprocess.ts';
export { type FaceBox, FaceDetectorError, type I420Image, type Rect } from './types.ts';

export interface FaceDetectorOptions {
  modelPath: string;
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /** Lowest face score kept, 0..1 (default DEFAULT_MIN_SCORE). */
  minScore?: number;
}

/**
 * On the labelled photos (test/fixtures/face-photos.json, letterboxed) faces score 0.64–0.95 and
 * the best non-face 0.26; 0.5 (MediaPipe's own default) leaves room on both sides.
 */
export const DEFAULT_MIN_SCORE = 0.5;
export const INPUT_SIZE = 256;
/** MediaPipe's suppression overlap for this model. */
const NMS_IOU = 0.3;
/** A region of interest is grown by this factor (to a square on its longer side) before sampling. */
const ROI_GROWTH = 1.5;

const INPUT = 'input:0';
/** Per anchor layer: scores and regressors outputs, in BLAZEFACE_BACK_LAYERS order. */
const HEADS = [
  { scores: 'Identity:0', regressors: 'Identity_2:0' },
  { scores: 'Identity_1:0', regressors: 'Identity_3:0' },
] as const;

export class FaceDetector {
  private readonly input = new Float32Array(INPUT_SIZE * INPUT_SIZE * 3);
  private readonly tensor: ort.Tensor;
  private readonly sampler = new I420Sampler(INPUT_SIZE);
  private readonly anchors = BLAZEFACE_BACK_LAYERS.map(anchorCentres);
  /** Calls run one at a time: they share the input tensor. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private closing: Promise<void> | undefined;
  private inferenceMs = 0;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly minScore: number,
  ) {
    this.tensor = new ort.Tensor('float32', this.input, [1, INPUT_SIZE, INPUT_SIZE, 3]);
  }

  static async create(options: FaceDetectorOptions): Promise<FaceDetector> {
    const threads = options.threads ?? 2;
    const minScore = options.minScore ?? DEFAULT_MIN_SCORE;
    if (!Number.isInteger(threads) || threads < 1)
      throw new FaceDetectorError(
        'FACE_OPTIONS_INVALID',
        `threads must be a positive integer, got ${threads}`,
      );
    if (!(minScore > 0 && minScore < 1))
      throw new FaceDetectorError(
        'FACE_OPTIONS_INVALID',
        `minScore must lie between 0 and 1, got ${minScore}`,
      );
    try {
      await access(options.modelPath);
    } catch (cause) {
      throw new FaceDetectorError('FACE_MODEL_MISSING', `face model ${options.modelPath} cannot be read`, {
        cause,
      });
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(options.modelPath, faceSessionOptions(threads));
    } catch (cause) {
      throw new FaceDetectorError('FACE_MODEL_INVALID', `face model ${options.modelPath} failed to load`, {
        cause,
      });
    }
    const names = [...session.inputNames, ...session.outputNames];
    const missing = [INPUT, ...HEADS.flatMap((h) => [h.scores, h.regressors])].filter(
      (n) => !names.includes(n),
    );
    if (missing.length > 0) {
      await session.release();
      throw new FaceDetectorError(
        'FACE_MODEL_INVALID',
        `face model ${options.modelPath} lacks ${missing.join(', ')}; is it the BlazeFace back model?`,
      );
    }
    return new FaceDetector(session, minScore);
  }

  /** Milliseconds of the last model run alone (no preprocessing or decoding). */
  get lastInferenceMs(): number {
    return this.inferenceMs;
  }

  /**
   * Faces in `image`; with `roi`, only inside that region: the crop is grown to a square (with a
   * margin), sampled at 256x256 from the full-resolution image (bilinear, YUV->RGB while
   * sampling, no full-frame RGB conversion), and boxes mapped back to image coordinates.
   * Without roi, the whole image letterboxed into 256x256 (no tiling). With roi, a face counts
   * when its box centre lies inside the region. Best score first; a face cut by the image edge
   * may have a box reaching past it.
   */
  detect(image: I420Image, roi?: Rect): Promise<FaceBox[]> {
    if (this.closed)
      return Promise.reject(new FaceDetectorError('FACE_DETECTOR_CLOSED', 'face detector is closed'));
    const run = this.queue.then(() => this.detectNow(image, roi));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Lets the calls already made finish, then frees the session; later calls fail with FACE_DETECTOR_CLOSED. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.queue.then(() => this.session.release());
    return this.closing;
  }

  private async detectNow(image: I420Image, roi?: Rect): Promise<FaceBox[]> {
    assertI420(image);
    if (roi === undefined) return weightedNms(await this.detectSquare(image, letterbox(image)), NMS_IOU);
    const region = clipRoi(roi, image);
    const side = Math.max(region.width, region.height) * ROI_GROWTH;
    const square = {
      x: region.x + region.width / 2 - side / 2,
      y: region.y + region.height / 2 - side / 2,
      size: side,
    };
    const faces = weightedNms(await this.detectSquare(image, square), NMS_IOU);
    return faces.filter((f) => {
      const cx = f.x + f.width / 2;
      const cy = f.y + f.height / 2;
      return (
        cx >= region.x && cx < region.x + region.width && cy >= region.y && cy < region.y + region.height
      );
    });
  }

  /** One model run over `square` of the image: candidate boxes (before NMS) in image pixels. */
  private async detectSquare(image: I420Image, square: SourceSquare): Promise<FaceBox[]> {
    this.sampler.sample(image, square, this.input);
    const began = performance.now();
    const out = await this.session.run({ [INPUT]: this.tensor });
    this.inferenceMs = performance.now() - began;
    const boxes: FaceBox[] = [];
    HEADS.forEach((head, i) => {
      const scores = out[head.scores]?.data;
      const regressors = out[head.regressors]?.data;
      const anchors = this.anchors[i];
      if (!(scores instanceof Float32Array && regressors instanceof Float32Array) || !anchors)
        throw new FaceDetectorError('FACE_MODEL_INVALID', `face model gave no float output ${head.scores}`);
      const found = decodeHead(scores, regressors, anchors, {
        inputSize: INPUT_SIZE,
        minScore: this.minScore,
      });
      for (const f of found) boxes.push(toImage(f, square));
    });
    return boxes;
  }
}

/** onnxruntime session options of the detector (the benchmark times a bare session with the same). */
export function faceSessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // The exported graph carries unused initialisers; onnxruntime warns about each one.
    logSeverityLevel: 3,
    // Pool threads otherwise spin after each run: with runs spaced out (motion frames) that
    // tripled the CPU per inference here (~33 ms instead of ~11 ms) and slowed runs on a busy box.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** The whole image centred in a square (the longer side), so faces keep their shape. */
function letterbox(image: I420Image): SourceSquare {
  const size = Math.max(image.width, image.height);
  return { x: (image.width - size) / 2, y: (image.height - size) / 2, size };
}

/** `roi` checked and clipped to the image; throws FACE_ROI_INVALID when nothing is left. */
function clipRoi(roi: Rect, image: I420Image): Rect {
  const { x, y, width, height } = roi ?? {};
  if (![x, y, width, height].every(Number.isFinite) || !(width > 0 && height > 0))
    throw new FaceDetectorError('FACE_ROI_INVALID', `roi ${JSON.stringify(roi)} is not a rectangle`);
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(image.width, x + width);
  const y1 = Math.min(image.height, y + height);
  if (x1 <= x0 || y1 <= y0)
    throw new FaceDetectorError(
      'FACE_ROI_INVALID',
      `roi ${JSON.stringify(roi)} lies outside the ${image.width}x${image.height} image`,
    );
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** A box normalised to the model input, mapped to image pixels through the sampled square. */
function toImage(f: FaceBox, square: SourceSquare): FaceBox {
  const s = square.size;
  return {
    x: square.x + f.x * s,
    y: square.y + f.y * s,
    width: f.width * s,
    height: f.height * s,
    score: f.score,
    keypoints: f.keypoints.map(([kx, ky]): [number, number] => [square.x + kx * s, square.y + ky * s]),
  };
}
