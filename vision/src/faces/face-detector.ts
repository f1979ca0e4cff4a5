/**
 * Face detection on the node: MediaPipe's BlazeFace back-camera model (256×256) through
 * onnxruntime-node; anchors decoded and suppressed here, in TypeScript (decode.ts, nms.ts).
 */
import { access } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { anchorCentres, BLAZEFACE_BACK_LAYERS } from './anchors.ts';
import { decodeHead } from './decode.ts';
import { clipRoi, grow, letterbox, toImage, touchesInnerEdge } from './geometry.ts';
import { iou, weightedNms } from './nms.ts';
import { assertI420, I420Sampler, type SourceSquare } from './preprocess.ts';
import { type SearchOptions, searchSquares } from './search-plan.ts';
import { type FaceBox, FaceDetectorError, type I420Image, type Rect } from './types.ts';

export { anchorCentres, BLAZEFACE_BACK_LAYERS } from './anchors.ts';
export { decodeHead, sigmoidScore } from './decode.ts';
export { iou, weightedNms } from './nms.ts';
export { I420Sampler } from './preprocess.ts';
export { type SearchOptions, searchSquares } from './search-plan.ts';
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
/**
 * A tile keeps boxes up to this many times the widest face it is searched for: a wider face is
 * the coarser levels' (they find every face of that size), and on the fixture's empty frames most
 * false boxes were tiles taking texture for a face too large for them.
 */
const LEVEL_SIZE_SLACK = 1.5;
/**
 * The search's score rule, measured on the camera-like fixture (`bench/face-search.ts`): tiles
 * propose boxes from minScore - 0.05; a box of minScore + 0.1 or more is a face; one between is
 * confirmed by a run of its own (`confirmed`). Against a plain minScore cut this found 4 % more
 * small faces with a third fewer false boxes on empty frames.
 */
const SEARCH_CANDIDATE_BELOW = 0.05;
const SEARCH_ACCEPT_ABOVE = 0.1;
const SEARCH_CONFIRM_BELOW = 0.1;
const VERIFY_CONTEXT = 8;
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

  /**
   * Every face of at least `minFaceWidth` px (default DEFAULT_MIN_FACE_WIDTH) in `image`, or in
   * `roi`: the frame (or region) searched at every scale faces appear at, as a pyramid of
   * overlapping square tiles (`searchSquares`), the boxes of all tiles merged. A box touching an
   * inner tile edge is left to the neighbouring tile that holds the face whole. Costs one model
   * run per square: `searchSquares(...).length`.
   */
  search(image: I420Image, options: SearchOptions = {}): Promise<FaceBox[]> {
    if (this.closed)
      return Promise.reject(new FaceDetectorError('FACE_DETECTOR_CLOSED', 'face detector is closed'));
    const run = this.queue.then(() => this.searchNow(image, options));
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

  private async searchNow(image: I420Image, options: SearchOptions): Promise<FaceBox[]> {
    assertI420(image);
    const region = options.roi === undefined ? undefined : clipRoi(options.roi, image);
    // A region is searched with a margin, so that a face across its edge is seen whole.
    const searched = region && clipRoi(grow(region, 0.25), image);
    const squares = searchSquares(image.width, image.height, { ...options, roi: searched });
    const candidate = this.minScore - SEARCH_CANDIDATE_BELOW;
    const boxes: FaceBox[] = [];
    for (const square of squares)
      for (const box of await this.detectSquare(image, square, candidate))
        if (!touchesInnerEdge(box, square) && box.width <= square.largestFace * LEVEL_SIZE_SLACK)
          boxes.push(box);
    const faces: FaceBox[] = [];
    for (const face of weightedNms(boxes, NMS_IOU)) {
      if (region) {
        const cx = face.x + face.width / 2;
        const cy = face.y + face.height / 2;
        if (
          !(cx >= region.x && cx < region.x + region.width && cy >= region.y && cy < region.y + region.height)
        )
          continue;
      }
      if (face.score >= this.minScore + SEARCH_ACCEPT_ABOVE || (await this.confirmed(image, face)))
        faces.push(face);
    }
    return faces;
  }

  /**
   * A doubtful box looked at again on its own, in a square VERIFY_CONTEXT times its width (the
   * face about 1/8 of the input, where the model scores faces best): kept when that run finds
   * a box on it scoring at least minScore - SEARCH_CONFIRM_BELOW.
   */
  private async confirmed(image: I420Image, face: FaceBox): Promise<boolean> {
    const size = Math.max(face.width, face.height) * VERIFY_CONTEXT;
    const square = { x: face.x + face.width / 2 - size / 2, y: face.y + face.height / 2 - size / 2, size };
    const again = await this.detectSquare(image, square, this.minScore - SEARCH_CONFIRM_BELOW);
    return again.some((b) => iou(b, face) > NMS_IOU);
  }

  /** One model run over `square` of the image: candidate boxes (before NMS) in image pixels. */
  private async detectSquare(
    image: I420Image,
    square: SourceSquare,
    minScore = this.minScore,
  ): Promise<FaceBox[]> {
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
        minScore,
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
