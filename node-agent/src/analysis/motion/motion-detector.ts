/**
 * Motion in small grayscale frames, pure TypeScript on typed arrays. Each frame is box-averaged
 * onto a working grid of about 160×90 cells (the blur), compared with a running-average
 * background, thresholded (the larger of a sensitivity level and a multiple of the measured
 * sensor noise), dilated and split into connected regions; masks and zones are drawn onto the
 * grid once. When most of the frame changes at once (lights, IR switch) the background is
 * replaced by the frame and motion is held back until the picture settles.
 */
import type { MotionZone, Polygon } from '@cctv/protocol';
import { BackgroundModel, Q, STEADY_WEIGHT } from './background.ts';
import { rasterisePolygon } from './polygon-mask.ts';
import { REGION_FIELDS, RegionFinder } from './regions.ts';

export interface MotionDetectorOptions {
  /** Input grayscale frame size (default analysis size is 320×180). */
  width: number;
  height: number;
  /** 1 (only large, strong changes) .. 10 (small, faint changes); default 5. */
  sensitivity?: number;
  /** Smallest region reported, as a fraction of the frame area; default from sensitivity (0.002 at 5). */
  minArea?: number;
  /** Normalised 0..1 polygons; pixels inside are ignored entirely. */
  masks?: Polygon[];
  /** When non-empty, only regions touching a zone count; `region.zones` names the zones hit. */
  zones?: MotionZone[];
}

/** A changed region in input-frame pixels; `area` counts the changed pixels. */
export interface MotionRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  area: number;
  zones: string[];
}

export interface MotionResult {
  /** At least one region. */
  motion: boolean;
  /** Largest first, at most 16. */
  regions: MotionRegion[];
  /** Changed share of the unmasked frame, 0..1. */
  changedShare: number;
  /** This frame reset the background (a global change such as lights or an IR switch). */
  recalibrated: boolean;
}

export type MotionErrorCode = 'MOTION_OPTIONS_INVALID' | 'MOTION_FRAME_INVALID';

export class MotionError extends Error {
  constructor(
    readonly code: MotionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MotionError';
  }
}

const MAX_REGIONS = 16;
const MAX_ZONES = 32;
/** Working grid cells aimed at (160×90); the box-average factor follows from it. */
const GRID_CELLS = 14_400;
/** The first frames after a (re)start are averaged evenly, so the background starts clean. */
const LEARN_FRAMES = 8;
/** Frames without motion after a start, while the background is learned. */
const WARMUP_FRAMES = 8;
/** After a recalibration: frames without motion, then more until the picture is quiet (at most SETTLE_MAX_FRAMES). */
const SETTLE_FRAMES = 3;
const SETTLE_MAX_FRAMES = 25;
const QUIET_SHARE = 0.05;
/** Share of the unmasked frame that, changed at once, means a global change rather than motion. */
const RECALIBRATE_SHARE = 0.5;
/** The noise estimate is updated only from frames this quiet (the median must be the noise)... */
const NOISE_SHARE = 0.25;
/** ...and against a background of at least this many frames (a younger one is noisy itself)... */
const NOISE_AFTER_FRAMES = 4;
/** ...on every frame while learning, then every NOISE_EVERY frames (noise changes slowly). */
const NOISE_EVERY = 4;
/** Threshold floor in noise standard deviations of the frame-minus-background difference. */
const NOISE_K = 5;
/** Difference threshold per sensitivity 1..10, in gray levels (of 0..255) of the blurred frame. */
const LEVELS = [48, 40, 34, 28, 24, 20, 16, 13, 10, 8];
/** Default smallest region per sensitivity 1..10, as a fraction of the frame area. */
const MIN_AREAS = [0.01, 0.007, 0.005, 0.003, 0.002, 0.0015, 0.001, 0.0007, 0.0005, 0.0003];

export class MotionDetector {
  readonly width: number;
  readonly height: number;
  /** Box-average factor: one grid cell is factor×factor input pixels. */
  readonly factor: number;
  readonly gridWidth: number;
  readonly gridHeight: number;
  private readonly levelQ: number;
  private readonly minCells: number;
  private readonly zoneNames: string[];
  private readonly activeCells: number;
  private readonly zoneBits: Uint32Array | null;
  private readonly model: BackgroundModel;
  private readonly regions: RegionFinder;
  /** Frames folded into the background since it was (re)started; 0: no background. */
  private learned = 0;
  private holdFrames = WARMUP_FRAMES;
  private settling = false;
  /** Median absolute difference of quiet frames, quarter levels; -1 until measured. */
  private noise = -1;
  /** Noise measurements so far; picks the rows the next one samples. */
  private noiseSamples = 0;

  constructor(options: MotionDetectorOptions) {
    const { width, height } = options;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2)
      throw new MotionError('MOTION_OPTIONS_INVALID', `frame size ${width}x${height} is not a valid size`);
    const sensitivity = options.sensitivity ?? 5;
    if (!Number.isInteger(sensitivity) || sensitivity < 1 || sensitivity > 10)
      throw new MotionError('MOTION_OPTIONS_INVALID', `sensitivity ${sensitivity} is not an integer 1..10`);
    const minArea = options.minArea ?? (MIN_AREAS[sensitivity - 1] as number);
    if (!(minArea >= 0 && minArea <= 1))
      throw new MotionError('MOTION_OPTIONS_INVALID', `minArea ${minArea} is not within 0..1`);
    const zones = options.zones ?? [];
    if (zones.length > MAX_ZONES)
      throw new MotionError('MOTION_OPTIONS_INVALID', `at most ${MAX_ZONES} zones, got ${zones.length}`);

    this.width = width;
    this.height = height;
    const f = Math.max(1, Math.min(Math.round(Math.sqrt((width * height) / GRID_CELLS)), width, height));
    this.factor = f;
    const gw = Math.floor(width / f);
    const gh = Math.floor(height / f);
    this.gridWidth = gw;
    this.gridHeight = gh;
    const cells = gw * gh;
    this.levelQ = (LEVELS[sensitivity - 1] as number) * Q;
    this.minCells = Math.max(1, Math.ceil((minArea * width * height) / (f * f)));

    const masked = new Uint8Array(cells);
    for (const mask of options.masks ?? []) rasterisePolygon(mask, gw, gh, masked, 1);
    const active = new Uint8Array(cells);
    let activeCells = 0;
    for (let i = 0; i < cells; i++) {
      const on = 1 - (masked[i] as number);
      active[i] = on;
      activeCells += on;
    }
    this.activeCells = activeCells;

    this.zoneNames = zones.map((z) => z.name);
    if (zones.length > 0) {
      const bits = new Uint32Array(cells);
      zones.forEach((zone, z) => {
        rasterisePolygon(zone.points, gw, gh, bits, (1 << z) >>> 0);
      });
      this.zoneBits = bits;
    } else this.zoneBits = null;

    this.regions = new RegionFinder(gw, gh, MAX_REGIONS);
    this.model = new BackgroundModel(width, height, f, active, this.regions.changed);
  }

  /** Forgets the background and the noise estimate; the next frames relearn them (no motion meanwhile). */
  reset(): void {
    this.learned = 0;
    this.holdFrames = WARMUP_FRAMES;
    this.settling = false;
    this.noise = -1;
  }

  /** Analyses one frame (width*height luma bytes). `gray` is not kept after the call returns. */
  process(gray: Uint8Array): MotionResult {
    if (!(gray instanceof Uint8Array) || gray.length !== this.width * this.height)
      throw new MotionError(
        'MOTION_FRAME_INVALID',
        `expected ${this.width * this.height} bytes (${this.width}x${this.height} gray), got ${
          gray instanceof Uint8Array ? gray.length : typeof gray
        }`,
      );
    const { model } = this;
    if (this.learned === 0) {
      model.load(gray);
      model.restart();
      this.learned = 1;
      return quiet(0, false);
    }

    const weight = this.learned < LEARN_FRAMES ? Math.round(65_536 / (this.learned + 1)) : STEADY_WEIGHT;
    model.compare(gray, this.threshold(), weight);
    this.learned++;
    const changedShare = this.activeCells > 0 ? model.changedCells / this.activeCells : 0;

    if (changedShare > RECALIBRATE_SHARE) {
      model.load(gray);
      model.restart();
      this.learned = 1;
      this.holdFrames = SETTLE_FRAMES + 1;
      this.settling = true;
      return quiet(changedShare, true);
    }
    const measureNoise = this.learned < LEARN_FRAMES || this.learned % NOISE_EVERY === 0;
    if (measureNoise && this.learned > NOISE_AFTER_FRAMES && changedShare < NOISE_SHARE) {
      const m = model.noiseMedian(this.noiseSamples++);
      if (m >= 0) this.noise = this.noise < 0 ? m : this.noise + (m - this.noise) / 4;
    }
    if (this.learned <= this.holdFrames) return quiet(changedShare, false);
    if (this.settling) {
      if (changedShare >= QUIET_SHARE && this.learned <= SETTLE_MAX_FRAMES) return quiet(changedShare, false);
      this.settling = false;
    }
    if (model.changedCells === 0) return quiet(changedShare, false);

    const found = this.regions.find(model.rowCounts, this.minCells, this.zoneBits);
    return { motion: found > 0, regions: this.toRegions(found), changedShare, recalibrated: false };
  }

  /** Quarter levels above which a cell counts as changed. */
  private threshold(): number {
    if (this.noise < 0) return this.levelQ;
    // For Gaussian noise the median absolute value is 0.6745 standard deviations.
    return Math.max(this.levelQ, Math.ceil((NOISE_K * this.noise) / 0.6745));
  }

  private toRegions(count: number): MotionRegion[] {
    const { found } = this.regions;
    const f = this.factor;
    const out: MotionRegion[] = [];
    for (let r = 0; r < count; r++) {
      const o = r * REGION_FIELDS;
      const x0 = found[o + 1] as number;
      const y0 = found[o + 2] as number;
      const bits = found[o + 5] as number;
      const zones: string[] = [];
      for (let z = 0; bits !== 0 && z < this.zoneNames.length; z++)
        if ((bits >>> z) & 1) zones.push(this.zoneNames[z] as string);
      out.push({
        x: x0 * f,
        y: y0 * f,
        width: ((found[o + 3] as number) - x0 + 1) * f,
        height: ((found[o + 4] as number) - y0 + 1) * f,
        area: (found[o] as number) * f * f,
        zones,
      });
    }
    return out;
  }
}

const quiet = (changedShare: number, recalibrated: boolean): MotionResult => ({
  motion: false,
  regions: [],
  changedShare,
  recalibrated,
});
