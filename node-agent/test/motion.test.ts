import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import type { Polygon } from '@cctv/protocol';
import {
  MotionDetector,
  type MotionDetectorOptions,
  MotionError,
  type MotionRegion,
  type MotionResult,
} from '../src/analysis/motion/motion-detector.ts';
import { rasterisePolygon } from '../src/analysis/motion/polygon-mask.ts';

const W = 320;
const H = 180;
const FPS = 5;
/** Frames the detector spends learning before it may report motion. */
const WARMUP = 8;

/** Raw gray frames of a lavfi filter graph, decoded by a real ffmpeg. */
function lavfi(graph: string, frames: number, width = W, height = H): Promise<Uint8Array[]> {
  const args = ['-v', 'error', '-f', 'lavfi', '-i', graph, '-frames:v', String(frames)];
  args.push('-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:1');
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', args, { encoding: 'buffer', maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ffmpeg failed: ${err.message}\n${stderr.toString()}`));
      const size = width * height;
      const out: Uint8Array[] = [];
      for (let o = 0; o + size <= stdout.length; o += size)
        out.push(new Uint8Array(stdout.subarray(o, o + size)));
      assert.equal(out.length, frames, 'ffmpeg gave fewer frames than asked');
      resolve(out);
    });
  });
}

/** A rectangle polygon from normalised corners. */
const rect = (x0: number, y0: number, x1: number, y1: number): Polygon => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];
/** A polygon from a flat list of normalised x, y pairs. */
const poly = (...xy: number[]): Polygon =>
  Array.from({ length: xy.length / 2 }, (_, i) => [xy[2 * i] as number, xy[2 * i + 1] as number]);

function runAll(options: MotionDetectorOptions, frames: Uint8Array[]): MotionResult[] {
  const detector = new MotionDetector(options);
  return frames.map((f) => detector.process(f));
}

/** A 40×40 white box moving right at 40 px/s on a dark frame, entering at t = 2 s (frame 10). */
const BOX = { size: 40, y: 70, x0: -120, speed: 40 };
const boxX = (frame: number) => BOX.x0 + (BOX.speed * frame) / FPS;
const movingBox = (noise: number, scale = 1) =>
  `color=c=0x404040:s=${W * scale}x${H * scale}:r=${FPS}[bg];` +
  `color=c=white:s=${BOX.size * scale}x${BOX.size * scale}:r=${FPS}[box];` +
  `[bg][box]overlay=x='(t*${BOX.speed}${BOX.x0})*${scale}':y=${BOX.y * scale},noise=alls=${noise}:allf=t`;

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
/** The part of the box inside the frame at `frame`, or null when it is outside. */
function visibleBox(frame: number, scale = 1): Rect | null {
  const x = boxX(frame) * scale;
  const left = Math.max(0, x);
  const right = Math.min(W * scale, x + BOX.size * scale);
  if (right <= left) return null;
  return { x: left, y: BOX.y * scale, width: right - left, height: BOX.size * scale };
}
function iou(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
const bestIou = (regions: MotionRegion[], box: Rect) => Math.max(0, ...regions.map((r) => iou(r, box)));

/** Asserts the box is found (IoU ≥ 0.7) on every frame it shows at least 8 px, nothing on frames without it. */
function assertTracksBox(results: MotionResult[], scale = 1): void {
  results.forEach((r, i) => {
    const box = visibleBox(i, scale);
    if (i < WARMUP) assert.equal(r.motion, false, `frame ${i}: warm-up frames report no motion`);
    else if (box === null)
      assert.equal(r.motion, false, `frame ${i}: no box, no motion (${JSON.stringify(r.regions)})`);
    else if (box.width >= 8 * scale) {
      assert.equal(r.motion, true, `frame ${i}: box at ${JSON.stringify(box)} missed`);
      const score = bestIou(r.regions, box);
      assert.ok(
        score >= 0.7,
        `frame ${i}: best IoU ${score.toFixed(2)} for ${JSON.stringify(box)} in ${JSON.stringify(r.regions)}`,
      );
    }
  });
}

describe('motion detector on generated video', () => {
  it('reports nothing on a still, noisy scene, even at sensitivity 10', async () => {
    const frames = await lavfi(`smptebars=s=${W}x${H}:r=${FPS},noise=alls=12:allf=t`, 60);
    for (const sensitivity of [5, 10]) {
      const results = runAll({ width: W, height: H, sensitivity }, frames);
      const moving = results.flatMap((r, i) => (r.motion ? [i] : []));
      assert.deepEqual(moving, [], `sensitivity ${sensitivity}: motion on frames ${moving.join(', ')}`);
      assert.ok(results.every((r) => !r.recalibrated));
      assert.ok(results.slice(WARMUP).every((r) => r.changedShare < 0.001));
    }
  });

  it('follows a moving box: motion on every frame it shows, a region over its true position', async () => {
    const frames = await lavfi(movingBox(6), 60);
    const results = runAll({ width: W, height: H }, frames);
    assertTracksBox(results);
    // The box fully inside: one region, the box itself (2×2 cells: edges may move by a pixel).
    const whole = results[30] as MotionResult;
    assert.equal(whole.regions.length, 1);
    assert.ok(Math.abs((whole.regions[0]?.area ?? 0) - 1600) <= 160, JSON.stringify(whole.regions));
    assert.ok(Math.abs(whole.changedShare - 1600 / (W * H)) < 0.005);
  });

  it('works the same on other frame sizes (4×4 cells at 640×360, the unpacked path at 322×180)', async () => {
    assertTracksBox(
      runAll({ width: 2 * W, height: 2 * H }, await lavfi(movingBox(6, 2), 60, 2 * W, 2 * H)),
      2,
    );
    // 322 px wide: the packed 2×2 pass needs a width that is a multiple of 4.
    const graph = `${movingBox(6)},pad=w=${W + 2}:h=${H}:x=0:y=0:color=0x404040`;
    const frames = await lavfi(graph, 60, W + 2, H);
    const results = runAll({ width: W + 2, height: H }, frames);
    assertTracksBox(results);
  });

  it('recalibrates on a sudden brightness step without a storm of motion', async () => {
    // Lights on at t = 3 s (frame 15), then lights off at t = 8 s (frame 40), on a textured noisy scene.
    const step = `eq=brightness='if(between(t,3,7.9),0.18,0)':eval=frame`;
    const frames = await lavfi(`smptebars=s=${W}x${H}:r=${FPS},${step},noise=alls=12:allf=t`, 60);
    const results = runAll({ width: W, height: H }, frames);
    const recalibrated = results.flatMap((r, i) => (r.recalibrated ? [i] : []));
    assert.deepEqual(recalibrated, [15, 40]);
    const moving = results.filter((r) => r.motion).length;
    assert.ok(moving <= 2, `${moving} frames with motion`);
    assert.ok(results.every((r) => !(r.motion && r.recalibrated)));
    assert.ok((results[15]?.changedShare ?? 0) > 0.5);
  });

  it('settles after a brightness ramp (auto exposure) without a storm of motion', async () => {
    // Over 1.4 s from t = 3 s the picture brightens by 0.28 (about 70 levels), a step per frame.
    const ramp = `eq=brightness='clip((t-3)*0.2,0,0.28)':eval=frame`;
    const frames = await lavfi(`smptebars=s=${W}x${H}:r=${FPS},${ramp},noise=alls=12:allf=t`, 60);
    const results = runAll({ width: W, height: H }, frames);
    assert.ok(results.some((r) => r.recalibrated));
    const moving = results.filter((r) => r.motion).length;
    assert.ok(moving <= 2, `${moving} frames with motion`);
  });

  it('ignores motion under a mask', async () => {
    const frames = await lavfi(movingBox(6), 60);
    const band = rect(0, 60 / H, 1, 120 / H);
    const results = runAll({ width: W, height: H, masks: [band] }, frames);
    assert.ok(results.every((r) => !r.motion));
    assert.ok(results.every((r) => r.changedShare === 0));
    // A mask elsewhere changes nothing.
    const elsewhere = poly(0, 0, 1, 0, 1, 0.3);
    assertTracksBox(runAll({ width: W, height: H, masks: [elsewhere] }, frames));
  });

  it('counts only motion touching a zone, and names the zones hit', async () => {
    const frames = await lavfi(movingBox(6), 60);
    const zones = [
      { name: 'door', points: rect(0.5, 0, 1, 1) },
      { name: 'sky', points: rect(0, 0, 1, 0.2) },
    ];
    const results = runAll({ width: W, height: H, zones }, frames);
    let inside = 0;
    results.forEach((r, i) => {
      const box = visibleBox(i);
      if (box === null || i < WARMUP) {
        assert.equal(r.motion, false, `frame ${i}`);
        return;
      }
      // Dilation reaches 2 px: a box ending 6 px before the zone cannot touch it.
      if (box.x + box.width <= W / 2 - 6) assert.equal(r.motion, false, `frame ${i}: box outside the zone`);
      if (box.x + box.width >= W / 2 + 8) {
        inside++;
        assert.equal(r.motion, true, `frame ${i}: box in the zone missed`);
        for (const region of r.regions) assert.deepEqual(region.zones, ['door']);
        assert.ok(bestIou(r.regions, box) >= 0.7);
      }
    });
    assert.ok(inside >= 20, `${inside} frames with the box in the zone`);
    // Without zones the same frames name none.
    const free = runAll({ width: W, height: H }, frames);
    assert.ok(free.every((r) => r.regions.every((region) => region.zones.length === 0)));
  });

  it('sees a faint change at sensitivity 10 and not at 1', async () => {
    // A box only 16 gray levels brighter than the background, light noise.
    const graph =
      `color=c=0x606060:s=${W}x${H}:r=${FPS}[bg];color=c=0x707070:s=40x40:r=${FPS}[box];` +
      `[bg][box]overlay=x='t*${BOX.speed}${BOX.x0}':y=${BOX.y},noise=alls=3:allf=t`;
    const frames = await lavfi(graph, 40);
    const count = (sensitivity: number) =>
      runAll({ width: W, height: H, sensitivity }, frames).filter((r) => r.motion).length;
    const seen = [1, 3, 5, 8, 10].map(count);
    assert.equal(seen[0], 0, `sensitivity 1 saw ${seen[0]} frames`);
    assert.ok((seen[4] ?? 0) >= 25, `sensitivity 10 saw only ${seen[4]} frames`);
    for (let i = 1; i < seen.length; i++)
      assert.ok((seen[i] ?? 0) >= (seen[i - 1] ?? 0), `not monotonic: ${seen}`);
  });
});

/** A flat frame with squares drawn on it (synthetic, no noise). */
function drawn(squares: Rect[], level = 200, background = 100): Uint8Array {
  const f = new Uint8Array(W * H).fill(background);
  for (const s of squares)
    for (let y = s.y; y < s.y + s.height; y++) f.fill(level, y * W + s.x, y * W + s.x + s.width);
  return f;
}

describe('motion detector', () => {
  it('rejects a frame of the wrong size and bad options with a typed error', () => {
    const detector = new MotionDetector({ width: W, height: H });
    const bad = (fn: () => unknown, code: string) =>
      assert.throws(fn, (err: unknown) => err instanceof MotionError && err.code === code);
    bad(() => detector.process(new Uint8Array(W * H - 1)), 'MOTION_FRAME_INVALID');
    bad(() => detector.process(new Uint8Array(W * H * 1.5)), 'MOTION_FRAME_INVALID');
    bad(() => detector.process([] as unknown as Uint8Array), 'MOTION_FRAME_INVALID');
    bad(() => new MotionDetector({ width: 0, height: H }), 'MOTION_OPTIONS_INVALID');
    bad(() => new MotionDetector({ width: 320.5, height: H }), 'MOTION_OPTIONS_INVALID');
    for (const sensitivity of [0, 11, 2.5, Number.NaN])
      bad(() => new MotionDetector({ width: W, height: H, sensitivity }), 'MOTION_OPTIONS_INVALID');
    bad(() => new MotionDetector({ width: W, height: H, minArea: -0.1 }), 'MOTION_OPTIONS_INVALID');
    const zone = { name: 'z', points: poly(0, 0, 1, 0, 1, 1) };
    bad(
      () => new MotionDetector({ width: W, height: H, zones: Array(33).fill(zone) }),
      'MOTION_OPTIONS_INVALID',
    );
    // A Buffer (a Uint8Array) at an odd offset is fine.
    const pool = Buffer.alloc(W * H + 3, 90);
    assert.equal(detector.process(pool.subarray(3)).motion, false);
  });

  it('reports at most 16 regions, largest first, with input-pixel boxes and areas', () => {
    const squares: Rect[] = [];
    for (let k = 0; k < 20; k++)
      squares.push({ x: 8 + (k % 5) * 62, y: 8 + Math.floor(k / 5) * 44, width: 12 + k, height: 12 + k });
    const detector = new MotionDetector({ width: W, height: H });
    const empty = drawn([]);
    for (let i = 0; i < WARMUP + 1; i++) assert.equal(detector.process(empty).motion, false);
    const r = detector.process(drawn(squares));
    assert.equal(r.motion, true);
    assert.equal(r.regions.length, 16);
    for (let i = 1; i < r.regions.length; i++)
      assert.ok((r.regions[i - 1]?.area ?? 0) >= (r.regions[i]?.area ?? 0), 'not sorted by area');
    // The largest is the last square, 31×31 at (256, 140): boxes snap to 2-pixel cells.
    const largest = r.regions[0] as MotionRegion;
    assert.ok(Math.abs(largest.x - 256) <= 2 && Math.abs(largest.y - 140) <= 2, JSON.stringify(largest));
    assert.ok(
      Math.abs(largest.width - 31) <= 2 && Math.abs(largest.height - 31) <= 2,
      JSON.stringify(largest),
    );
    assert.ok(largest.area >= 31 * 31 && largest.area <= 32 * 32, JSON.stringify(largest));
    const total = squares.reduce((n, s) => n + s.width * s.height, 0);
    // Cells partly covered by a square count whole: the share is a little above the pixel share.
    assert.ok(
      r.changedShare >= total / (W * H) && r.changedShare <= (1.2 * total) / (W * H),
      String(r.changedShare),
    );
  });

  it('drops regions smaller than minArea, and joins pieces a pixel or two apart', () => {
    const detector = new MotionDetector({ width: W, height: H, minArea: 0.01 });
    const empty = drawn([]);
    for (let i = 0; i < WARMUP + 1; i++) detector.process(empty);
    // 20×20 = 400 px < 0.01 of the frame (576 px); two 20×20 halves 2 px apart join into one.
    assert.equal(detector.process(drawn([{ x: 40, y: 40, width: 20, height: 20 }])).motion, false);
    detector.reset();
    for (let i = 0; i < WARMUP + 1; i++) detector.process(empty);
    const pair = detector.process(
      drawn([
        { x: 40, y: 40, width: 20, height: 20 },
        { x: 62, y: 40, width: 20, height: 20 },
      ]),
    );
    assert.equal(pair.regions.length, 1, JSON.stringify(pair.regions));
    assert.ok(Math.abs((pair.regions[0]?.width ?? 0) - 42) <= 2);
  });

  it('names every zone a region touches', () => {
    const zones = [
      { name: 'left', points: rect(0, 0, 0.5, 1) },
      { name: 'right', points: rect(0.5, 0, 1, 1) },
      { name: 'far', points: poly(0.9, 0.9, 1, 0.9, 1, 1) },
    ];
    const detector = new MotionDetector({ width: W, height: H, zones });
    for (let i = 0; i < WARMUP + 1; i++) detector.process(drawn([]));
    const r = detector.process(drawn([{ x: 140, y: 40, width: 40, height: 40 }]));
    assert.deepEqual(r.regions[0]?.zones, ['left', 'right']);
  });

  it('forgets the background on reset() and learns it again before reporting', () => {
    const detector = new MotionDetector({ width: W, height: H });
    const square = drawn([{ x: 100, y: 50, width: 40, height: 40 }]);
    for (let i = 0; i < WARMUP + 1; i++) detector.process(drawn([]));
    assert.equal(detector.process(square).motion, true);
    detector.reset();
    // The square is now part of the scene: nothing during warm-up, nothing after.
    for (let i = 0; i < 2 * WARMUP; i++) assert.equal(detector.process(square).motion, false);
    assert.equal(detector.process(drawn([])).motion, true);
  });

  it('keeps nothing of the caller buffer: reusing one buffer gives the same results', async () => {
    const frames = await lavfi(movingBox(6), 30);
    const own = runAll({ width: W, height: H }, frames);
    const detector = new MotionDetector({ width: W, height: H });
    const buffer = new Uint8Array(W * H);
    const reused = frames.map((f) => {
      buffer.set(f);
      const r = detector.process(buffer);
      buffer.fill(0);
      return r;
    });
    assert.deepEqual(reused, own);
  });
});

describe('polygon rasterisation', () => {
  const cells = (polygon: Polygon, w: number, h: number) => {
    const out = new Uint8Array(w * h);
    rasterisePolygon(polygon, w, h, out, 1);
    return out;
  };
  const count = (a: Uint8Array) => a.reduce((n, v) => n + v, 0);

  it('covers the whole grid with a full-frame polygon, and half with a half-frame one', () => {
    assert.equal(count(cells(rect(0, 0, 1, 1), 160, 90)), 160 * 90);
    const left = cells(rect(0, 0, 0.5, 1), 160, 90);
    assert.equal(count(left), 80 * 90);
    for (let y = 0; y < 90; y++) {
      assert.equal(left[y * 160 + 79], 1);
      assert.equal(left[y * 160 + 80], 0);
    }
  });

  it('fills by cell centres, leaves concave notches empty, and ignores degenerate polygons', () => {
    // A triangle over half of a 10×10 grid: the cells whose centres lie below the diagonal.
    const tri = cells(poly(0, 0, 1, 1, 0, 1), 10, 10);
    assert.equal(count(tri), 45);
    assert.equal(tri[9 * 10 + 0], 1);
    assert.equal(tri[0 * 10 + 9], 0);
    // A U shape: the notch (x 0.4..0.6, y 0..0.6) stays empty.
    const u = cells(poly(0, 0, 0.4, 0, 0.4, 0.6, 0.6, 0.6, 0.6, 0, 1, 0, 1, 1, 0, 1), 10, 10);
    assert.equal(u[2 * 10 + 5], 0);
    assert.equal(u[8 * 10 + 5], 1);
    assert.equal(u[2 * 10 + 2], 1);
    assert.equal(count(u), 100 - 2 * 6);
    assert.equal(count(cells(poly(0, 0, 1, 1), 10, 10)), 0);
  });

  it('ORs zone bits, so one cell can belong to several zones', () => {
    const out = new Uint32Array(4 * 4);
    rasterisePolygon(rect(0, 0, 0.5, 1), 4, 4, out, 1);
    rasterisePolygon(rect(0, 0, 1, 0.5), 4, 4, out, (1 << 31) >>> 0);
    assert.equal(out[0], (1 | (1 << 31)) >>> 0);
    assert.equal(out[3], (1 << 31) >>> 0);
    assert.equal(out[12], 1);
    assert.equal(out[15], 0);
  });
});
