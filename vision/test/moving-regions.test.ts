import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type I420Image, MovingRegions } from '@cctv/vision';

/** A noisy grey frame with a bright 60×120 "person" at (x, 200). */
function frame(x: number | null, seed: number): I420Image {
  const width = 640;
  const height = 480;
  const data = new Uint8Array(width * height * 1.5);
  let s = seed;
  for (let i = 0; i < width * height; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = 100 + ((s >>> 16) % 9) - 4;
  }
  data.fill(128, width * height);
  if (x !== null) for (let y = 200; y < 320; y++) data.fill(200, y * width + x, y * width + x + 60);
  return { width, height, data };
}

describe('moving regions', () => {
  it('finds what moves, covers it whole, and nothing in sensor noise', () => {
    const moving = new MovingRegions();
    assert.deepEqual(moving.update(frame(null, 1)), [], 'the first frame only teaches the background');
    for (let i = 0; i < 20; i++)
      assert.deepEqual(moving.update(frame(null, i + 2)), [], 'noise is no motion');
    for (let x = 100; x < 400; x += 15) {
      const regions = moving.update(frame(x, x));
      const covering = regions.filter(
        (r) => r.x <= x && r.x + r.width >= x + 60 && r.y <= 200 && r.y + r.height >= 320,
      );
      assert.equal(
        covering.length,
        1,
        `the person at x=${x} is inside one region: ${JSON.stringify(regions)}`,
      );
    }
  });

  it('keeps a person who stops for a while, then lets the background take them', () => {
    const moving = new MovingRegions({ learnFrames: 10 });
    moving.update(frame(null, 1));
    let frames = 0;
    while (moving.update(frame(300, frames + 2)).length > 0 && frames < 1000) frames++;
    // Learning four times slower under a region: well over the 10 frames of a still scene.
    assert.ok(frames > 20 && frames < 1000, `gone into the background after ${frames} frames`);
  });
});
