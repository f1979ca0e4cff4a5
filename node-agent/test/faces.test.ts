/**
 * Face detection: anchors, decoding, NMS and the I420 sampler on made-up numbers; then the real
 * BlazeFace model on the labelled photos (recall, false boxes), a region of interest, bad input.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  anchorCentres,
  BLAZEFACE_BACK_LAYERS,
  decodeHead,
  type FaceBox,
  FaceDetector,
  FaceDetectorError,
  type I420Image,
  I420Sampler,
  iou,
  type Rect,
  sigmoidScore,
  weightedNms,
} from '@cctv/vision/faces';
import { onCleanup, repoRoot, tempDir } from '../../test/support/index.ts';
import { ensureFaceModel } from '../scripts/fetch-face-model.mjs';
import { type DecodedImage, decodeI420 } from './image-decode.ts';

interface PhotoFixture {
  source: { package: string; version: string; license: string; dir: string };
  photos: { file: string; width: number; height: number; faces: Rect[] }[];
}

async function faceModelPath(): Promise<string> {
  return ensureFaceModel();
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof FaceDetectorError, `expected FaceDetectorError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function box(x: number, y: number, width: number, height: number, score: number): FaceBox {
  return { x, y, width, height, score, keypoints: [[x + width / 2, y + height / 2]] };
}

/** Truth and found boxes paired greedily, best overlap first, each used once. */
function match(truth: Rect[], found: Rect[], minIou: number): { hits: number; ious: number[] } {
  const pairs = truth.flatMap((t, ti) => found.map((f, fi) => ({ ti, fi, v: iou(t, f) })));
  pairs.sort((a, b) => b.v - a.v);
  const usedT = new Set<number>();
  const usedF = new Set<number>();
  const ious = truth.map(() => 0);
  for (const { ti, fi, v } of pairs) {
    if (v < minIou || usedT.has(ti) || usedF.has(fi)) continue;
    usedT.add(ti);
    usedF.add(fi);
    ious[ti] = v;
  }
  return { hits: usedT.size, ious };
}

describe('anchors', () => {
  it('puts two anchors per cell on the 16×16 grid and six on the 8×8 grid, row by row', () => {
    const [fine, coarse] = BLAZEFACE_BACK_LAYERS.map(anchorCentres);
    assert.ok(fine && coarse);
    assert.equal(fine.length / 2, 512);
    assert.equal(coarse.length / 2, 384);
    // Anchor 2 * (row * 16 + col) + a of the fine grid: row 3, col 6, second anchor.
    const i = 2 * (3 * 16 + 6) + 1;
    assert.deepEqual([fine[2 * i], fine[2 * i + 1]], [6.5 / 16, 3.5 / 16]);
    assert.deepEqual([coarse[0], coarse[1], coarse[10], coarse[11]], [1 / 16, 1 / 16, 1 / 16, 1 / 16]);
    assert.deepEqual([coarse[12], coarse[13]], [3 / 16, 1 / 16]);
    assert.deepEqual([coarse.at(-2), coarse.at(-1)], [15 / 16, 15 / 16]);
  });
});

describe('decoding', () => {
  const anchors = anchorCentres({ grid: 2, perCell: 1 }); // (0.25,0.25) (0.75,0.25) (0.25,0.75) (0.75,0.75)

  it('turns the regressors of the anchors that pass into boxes and keypoints relative to the anchor', () => {
    const scores = new Float32Array([-5, 2, 0.5, Number.NEGATIVE_INFINITY]);
    const regressors = new Float32Array(4 * 16);
    regressors.set([16, -8, 64, 32], 16);
    for (let k = 0; k < 6; k++) regressors.set([k * 2, -k * 4], 16 + 4 + 2 * k);
    const boxes = decodeHead(scores, regressors, anchors, { inputSize: 256, minScore: 0.7 });
    assert.equal(boxes.length, 1);
    const [b] = boxes;
    assert.ok(b);
    assert.equal(b.score, sigmoidScore(2));
    assert.deepEqual([b.x, b.y, b.width, b.height], [0.8125 - 0.125, 0.21875 - 0.0625, 0.25, 0.125]);
    assert.equal(b.keypoints.length, 6);
    b.keypoints.forEach(([x, y], k) => {
      assert.ok(Math.abs(x - (0.75 + (k * 2) / 256)) < 1e-6);
      assert.ok(Math.abs(y - (0.25 - (k * 4) / 256)) < 1e-6);
    });
    // A lower threshold lets the weaker anchor in as well.
    assert.equal(decodeHead(scores, regressors, anchors, { inputSize: 256, minScore: 0.6 }).length, 1);
    regressors.set([0, 0, 10, 10], 2 * 16);
    assert.equal(decodeHead(scores, regressors, anchors, { inputSize: 256, minScore: 0.6 }).length, 2);
  });

  it('skips anchors with a degenerate size and refuses heads of disagreeing sizes', () => {
    const scores = new Float32Array([9, 9, 9, 9]);
    assert.deepEqual(
      decodeHead(scores, new Float32Array(64), anchors, { inputSize: 256, minScore: 0.5 }),
      [],
    );
    assert.throws(
      () => decodeHead(scores, new Float32Array(60), anchors, { inputSize: 256, minScore: 0.5 }),
      RangeError,
    );
  });

  it('scores with a sigmoid of the logit clamped to ±100', () => {
    assert.equal(sigmoidScore(0), 0.5);
    assert.equal(sigmoidScore(1e9), sigmoidScore(100));
    assert.equal(sigmoidScore(-1e9), sigmoidScore(-100));
    assert.ok(sigmoidScore(-1e9) > 0);
  });
});

describe('non-max suppression', () => {
  it('computes intersection over union', () => {
    const a = { x: 0, y: 0, width: 10, height: 10 };
    assert.equal(iou(a, a), 1);
    assert.equal(iou(a, { x: 10, y: 0, width: 10, height: 10 }), 0);
    assert.equal(iou(a, { x: 5, y: 0, width: 10, height: 10 }), 50 / 150);
    assert.equal(iou(a, { x: 0, y: 0, width: 0, height: 10 }), 0);
  });

  it('merges overlapping boxes into their score-weighted mean with the best score', () => {
    const out = weightedNms(
      [box(0, 0, 10, 10, 0.6), box(100, 100, 10, 10, 0.7), box(2, 0, 10, 10, 0.9)],
      0.3,
    );
    assert.equal(out.length, 2);
    const [merged, alone] = out;
    assert.ok(merged && alone);
    assert.equal(merged.score, 0.9);
    assert.ok(Math.abs(merged.x - (0.6 * 0 + 0.9 * 2) / 1.5) < 1e-9);
    assert.ok(Math.abs(merged.width - 10) < 1e-9);
    assert.ok(Math.abs((merged.keypoints[0]?.[0] ?? 0) - (0.6 * 5 + 0.9 * 7) / 1.5) < 1e-9);
    assert.deepEqual(alone, box(100, 100, 10, 10, 0.7));
  });

  it('keeps boxes that overlap by no more than the threshold apart', () => {
    // IoU of these two: 50 / 150 = 0.33.
    const pair = [box(0, 0, 10, 10, 0.9), box(5, 0, 10, 10, 0.8)];
    assert.equal(weightedNms(pair, 0.3).length, 1);
    assert.equal(weightedNms(pair, 0.34).length, 2);
    assert.deepEqual(weightedNms([], 0.3), []);
  });
});

describe('I420 sampling', () => {
  /** A uniform frame of one YUV colour. */
  function uniform(width: number, height: number, y: number, u: number, v: number): I420Image {
    const data = new Uint8Array(width * height * 1.5);
    data.fill(y, 0, width * height);
    data.fill(u, width * height, width * height * 1.25);
    data.fill(v, width * height * 1.25);
    return { width, height, data };
  }

  it('converts BT.601 limited-range colour to RGB in [-1, 1] and pads outside the frame black', () => {
    const sampler = new I420Sampler(4);
    const out = new Float32Array(4 * 4 * 3);
    sampler.sample(uniform(8, 8, 235, 128, 128), { x: 0, y: 0, size: 8 }, out);
    assert.ok(out.every((v) => Math.abs(v - 1) < 0.01));
    // Pure red in BT.601 limited range is about Y 81, U 90, V 240.
    sampler.sample(uniform(8, 8, 81, 90, 240), { x: 0, y: 0, size: 8 }, out);
    assert.ok(
      (out[0] ?? 0) > 0.98 && (out[1] ?? 0) < -0.98 && (out[2] ?? 0) < -0.98,
      `${out.subarray(0, 3)}`,
    );
    // The right half of this square lies past the frame's right edge.
    sampler.sample(uniform(8, 8, 235, 128, 128), { x: 4, y: 0, size: 8 }, out);
    assert.ok(Math.abs((out[0] ?? 0) - 1) < 0.01);
    assert.deepEqual(Array.from(out.subarray(2 * 3, 4 * 3)), [-1, -1, -1, -1, -1, -1]);
  });

  it('reproduces the luma exactly when the square is sampled 1:1', () => {
    const img = uniform(4, 4, 0, 128, 128);
    for (let i = 0; i < 16; i++) img.data[i] = 16 + i * 10;
    const out = new Float32Array(4 * 4 * 3);
    new I420Sampler(4).sample(img, { x: 0, y: 0, size: 4 }, out);
    for (let i = 0; i < 16; i++)
      assert.ok(Math.abs((out[3 * i] ?? 0) - (1.164 * (i * 10) * 2) / 255 + 1) < 1e-5);
  });
});

describe('BlazeFace on the labelled photos', () => {
  let detector: FaceDetector;
  let modelPath: string;
  let fixture: PhotoFixture;
  const photos = new Map<string, DecodedImage>();

  before(async () => {
    modelPath = await faceModelPath();
    detector = await FaceDetector.create({ modelPath });
    onCleanup(() => detector.close());
    fixture = JSON.parse(await readFile(new URL('fixtures/face-photos.json', import.meta.url), 'utf8'));
    for (const p of fixture.photos)
      photos.set(p.file, await decodeI420(join(repoRoot, fixture.source.dir, p.file)));
  });

  function photo(file: string): DecodedImage {
    const img = photos.get(file);
    assert.ok(img, `${file} decoded`);
    return img;
  }

  it(`finds at least 20 of the 22 labelled faces (IoU ≥ 0.4) with at most 1 false box`, async (t) => {
    let faces = 0;
    let hits = 0;
    let falseBoxes = 0;
    for (const p of fixture.photos) {
      const img = photo(p.file);
      assert.deepEqual([img.sourceWidth, img.sourceHeight], [p.width, p.height]);
      // The decoded frame is at most one pixel smaller than the photo: map back to photo pixels.
      const sx = p.width / img.width;
      const sy = p.height / img.height;
      const found = (await detector.detect(img)).map((f) => ({
        x: f.x * sx,
        y: f.y * sy,
        width: f.width * sx,
        height: f.height * sy,
      }));
      const m = match(p.faces, found, 0.4);
      faces += p.faces.length;
      hits += m.hits;
      falseBoxes += found.length - m.hits;
      t.diagnostic(
        `${p.file}: ${m.hits}/${p.faces.length} found, ${found.length - m.hits} false, IoU ${m.ious.map((v) => v.toFixed(2)).join(' ')}`,
      );
    }
    t.diagnostic(`recall ${hits}/${faces}, false boxes ${falseBoxes}`);
    assert.equal(faces, 22);
    assert.ok(hits >= 20, `recall ${hits}/${faces}`);
    assert.ok(falseBoxes <= 1, `${falseBoxes} false boxes`);
  });

  it('gives scored boxes with six keypoints near the face, and the time of the model run', async () => {
    const [face] = await detector.detect(photo('sample3.jpg'));
    assert.ok(face);
    assert.ok(face.score >= 0.5 && face.score <= 1);
    assert.equal(face.keypoints.length, 6);
    for (const [x, y] of face.keypoints) {
      assert.ok(x > face.x - face.width / 2 && x < face.x + face.width * 1.5);
      assert.ok(y > face.y - face.height / 2 && y < face.y + face.height * 1.5);
    }
    // Subject's right eye (image left) before the left eye.
    assert.ok((face.keypoints[0]?.[0] ?? 0) < (face.keypoints[1]?.[0] ?? 0));
    assert.ok(detector.lastInferenceMs > 0 && detector.lastInferenceMs < 5_000);
  });

  it('finds the face inside a region of interest and maps its box back to the image', async () => {
    const p = fixture.photos.find((x) => x.file === 'sample5.jpg');
    const truth = p?.faces[2];
    assert.ok(truth);
    const roi = { x: truth.x - 100, y: truth.y - 60, width: truth.width + 200, height: truth.height + 160 };
    const found = await detector.detect(photo('sample5.jpg'), roi);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.ok(iou(found[0] as FaceBox, truth) >= 0.5, `IoU ${iou(found[0] as FaceBox, truth)}`);
    // A region reaching past the top edge is clipped; the face at the top of sample4 is still found.
    const top = fixture.photos.find((x) => x.file === 'sample4.jpg')?.faces[1];
    assert.ok(top);
    const [edge] = await detector.detect(photo('sample4.jpg'), { x: 600, y: -100, width: 300, height: 450 });
    assert.ok(edge && iou(edge, top) >= 0.4);
    // The wall behind the people in sample1 holds no face.
    assert.deepEqual(
      await detector.detect(photo('sample1.jpg'), { x: 0, y: 0, width: 400, height: 300 }),
      [],
    );
  });

  it('finds nothing in a flat grey frame, and serves concurrent calls one at a time', async () => {
    const grey = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 1.5).fill(128) };
    assert.deepEqual(await detector.detect(grey), []);
    const alone = await detector.detect(photo('sample2.jpg'));
    const together = await Promise.all([
      detector.detect(photo('sample2.jpg')),
      detector.detect(grey),
      detector.detect(photo('sample2.jpg')),
    ]);
    assert.deepEqual(together, [alone, [], alone]);
  });

  it('refuses bad frames and regions with typed errors', async () => {
    await expectCode(
      detector.detect({ width: 641, height: 480, data: new Uint8Array(641 * 480 * 1.5) }),
      'FACE_IMAGE_INVALID',
    );
    await expectCode(
      detector.detect({ width: 640, height: 480, data: new Uint8Array(640 * 480) }),
      'FACE_IMAGE_INVALID',
    );
    await expectCode(
      detector.detect({ width: 0, height: 480, data: new Uint8Array(0) }),
      'FACE_IMAGE_INVALID',
    );
    const img = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 1.5) };
    await expectCode(detector.detect(img, { x: 100, y: 0, width: 10, height: 10 }), 'FACE_ROI_INVALID');
    await expectCode(detector.detect(img, { x: 0, y: 0, width: 0, height: 10 }), 'FACE_ROI_INVALID');
    await expectCode(
      detector.detect(img, { x: Number.NaN, y: 0, width: 10, height: 10 }),
      'FACE_ROI_INVALID',
    );
    // The detector still works after refusing.
    assert.deepEqual(await detector.detect(img), []);
  });

  it('refuses a missing or broken model file and bad options, and calls after close', async () => {
    const dir = await tempDir('cctv-face-');
    await expectCode(FaceDetector.create({ modelPath: join(dir, 'nope.onnx') }), 'FACE_MODEL_MISSING');
    await writeFile(join(dir, 'broken.onnx'), 'not a model');
    await expectCode(FaceDetector.create({ modelPath: join(dir, 'broken.onnx') }), 'FACE_MODEL_INVALID');
    await expectCode(FaceDetector.create({ modelPath, threads: 0 }), 'FACE_OPTIONS_INVALID');
    await expectCode(FaceDetector.create({ modelPath, minScore: 1.5 }), 'FACE_OPTIONS_INVALID');
    const own = await FaceDetector.create({ modelPath, threads: 1 });
    const img = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 1.5) };
    const pending = own.detect(img);
    await own.close();
    assert.deepEqual(await pending, []);
    await expectCode(own.detect(img), 'FACE_DETECTOR_CLOSED');
    await own.close();
  });
});
