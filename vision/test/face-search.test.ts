/**
 * The face search of blurred exports, blurred snapshots and face events: the search plan's
 * guarantee (every face of the sizes searched for lies whole in a square where it is at least
 * MIN_INPUT_FACE input pixels wide), then the real model on camera-like frames
 * (`support/camera-frames.ts`): recall by face width and false boxes on empty frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FaceDetector, type Rect, searchSquares } from '@cctv/vision/faces';
import { ensureFaceModel } from '../../node-agent/scripts/fetch-face-model.mjs';
import { MIN_INPUT_FACE } from '../src/faces/search-plan.ts';
import { cameraFrames, matchFaces } from './support/camera-frames.ts';

describe('search plan', () => {
  const inside = (f: Rect, s: { x: number; y: number; size: number }) =>
    f.x >= s.x && f.y >= s.y && f.x + f.width <= s.x + s.size && f.y + f.height <= s.y + s.size;

  it('puts every face from the smallest size up wholly in a square where the model can see it', () => {
    for (const [width, height] of [
      [1920, 1080],
      [1280, 720],
      [640, 480],
      [2560, 1440],
    ] as const) {
      const minFaceWidth = 24;
      const squares = searchSquares(width, height, { minFaceWidth });
      for (let w = minFaceWidth; w <= Math.min(width, height) / 1.3; w *= 1.17) {
        const h = w * 1.3;
        for (let y = 0; y + h <= height; y += h / 3 + 7)
          for (let x = 0; x + w <= width; x += w / 3 + 11) {
            const face = { x, y, width: w, height: h };
            const seen = squares.some((s) => inside(face, s) && (w * 256) / s.size >= MIN_INPUT_FACE * 0.999);
            assert.ok(
              seen,
              `${width}x${height}: a ${w.toFixed(0)} px face at ${x.toFixed(0)},${y.toFixed(0)}`,
            );
          }
      }
    }
  });

  it('costs what the benchmark reports, and searches a region with squares inside it', () => {
    assert.equal(searchSquares(1920, 1080).length, 37);
    assert.equal(searchSquares(1280, 720).length, 15);
    // A small region is one square (a 24 px face is 20 input px in it); a larger one is tiled
    // inside itself.
    assert.equal(searchSquares(1920, 1080, { roi: { x: 100, y: 200, width: 300, height: 200 } }).length, 1);
    const roi = { x: 100, y: 200, width: 900, height: 500 };
    const squares = searchSquares(1920, 1080, { roi });
    assert.deepEqual(squares[0], {
      x: 100,
      y: 0,
      size: 900,
      level: 0,
      largestFace: Number.POSITIVE_INFINITY,
      inner: { left: false, top: false, right: false, bottom: false },
    });
    assert.ok(squares.length > 1);
    for (const s of squares.slice(1)) {
      assert.ok(
        s.x >= roi.x - 1e-6 && s.x + s.size <= roi.x + roi.width + 1e-6,
        `square ${JSON.stringify(s)}`,
      );
      assert.ok(
        s.y >= roi.y - 1e-6 && s.y + s.size <= roi.y + roi.height + 1e-6,
        `square ${JSON.stringify(s)}`,
      );
    }
    assert.throws(() => searchSquares(1920, 1080, { minFaceWidth: 0 }), RangeError);
  });
});

describe('face search on camera-like frames', () => {
  let detector: FaceDetector;
  before(async () => {
    detector = await FaceDetector.create({ modelPath: ensureFaceModel() });
  });
  after(() => detector.close());

  it('finds ≥ 95 % of faces 24 px wide and up, every face from 48 px, with ≤ 1 false box per empty frame', async (t) => {
    const bands = [0, 20, 24, 32, 48, 96];
    const byBand = new Map<number, { hit: number; all: number }>();
    const falseOnEmpty: number[] = [];
    const missedLarge: string[] = [];
    for await (const frame of cameraFrames()) {
      const found = await detector.search(frame.image);
      const m = matchFaces(frame, found);
      frame.faces.forEach((face, k) => {
        const band = [...bands].reverse().find((b) => face.width >= b) ?? 0;
        const entry = byBand.get(band) ?? { hit: 0, all: 0 };
        entry.all++;
        if (m.hit[k]) entry.hit++;
        else if (face.width >= 48)
          missedLarge.push(
            `${face.width.toFixed(0)} px at ${face.x.toFixed(0)},${face.y.toFixed(0)} (${frame.treatment})`,
          );
        byBand.set(band, entry);
      });
      if (frame.kind === 'empty') falseOnEmpty.push(m.falseBoxes);
    }
    const recall = (min: number) => {
      let hit = 0;
      let all = 0;
      for (const [band, e] of byBand)
        if (band >= min) {
          hit += e.hit;
          all += e.all;
        }
      return { hit, all, value: hit / all };
    };
    for (const b of bands) {
      const e = byBand.get(b);
      if (e) t.diagnostic(`faces ${b ? `≥ ${b}` : `< ${bands[1]}`} px: ${e.hit}/${e.all} found`);
    }
    const r24 = recall(24);
    const r48 = recall(48);
    const meanFalse = falseOnEmpty.reduce((a, b) => a + b, 0) / falseOnEmpty.length;
    t.diagnostic(
      `recall ≥ 24 px ${(100 * r24.value).toFixed(1)} % of ${r24.all}, ≥ 48 px ${(100 * r48.value).toFixed(1)} % of ${r48.all}; false boxes per empty frame ${meanFalse.toFixed(2)} (max ${Math.max(...falseOnEmpty)}, ${falseOnEmpty.length} frames)`,
    );
    assert.ok(r24.all >= 500 && r48.all >= 100, 'the fixture holds enough faces to measure');
    assert.ok(r24.value >= 0.95, `recall for faces ≥ 24 px is ${(100 * r24.value).toFixed(1)} %`);
    assert.deepEqual(missedLarge, [], 'every face of 48 px and more is found');
    assert.ok(meanFalse <= 1, `${meanFalse.toFixed(2)} false boxes per empty frame`);
  });
});
