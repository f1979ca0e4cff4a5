import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containRect, displayedVideoRect } from '../features/events/event-geometry.ts';

describe('containRect', () => {
  it('fills a box of the same shape exactly', () => {
    assert.deepEqual(containRect(640, 360, 1920, 1080), { x: 0, y: 0, width: 640, height: 360 });
  });

  it('leaves bars above and below a wide picture', () => {
    assert.deepEqual(containRect(400, 400, 1920, 1080), { x: 0, y: 87.5, width: 400, height: 225 });
  });

  it('leaves bars left and right of a tall picture', () => {
    assert.deepEqual(containRect(800, 300, 640, 480), { x: 200, y: 0, width: 400, height: 300 });
  });

  it('scales a small picture up', () => {
    assert.deepEqual(containRect(1280, 720, 320, 180), { x: 0, y: 0, width: 1280, height: 720 });
  });

  it('has no picture before the size is known or in a box of no size', () => {
    assert.equal(containRect(640, 360, 0, 0), null);
    assert.equal(containRect(0, 360, 1920, 1080), null);
    assert.equal(containRect(640, -1, 1920, 1080), null);
  });
});

describe('displayedVideoRect', () => {
  /** The few properties of a video element it reads. */
  const video = (v: Record<string, number>) => v as unknown as HTMLVideoElement;

  it('places the picture inside the element, past its border', () => {
    const rect = displayedVideoRect(
      video({
        offsetLeft: 10,
        offsetTop: 20,
        clientLeft: 2,
        clientTop: 3,
        clientWidth: 400,
        clientHeight: 400,
        videoWidth: 1920,
        videoHeight: 1080,
      }),
    );
    assert.deepEqual(rect, { x: 12, y: 110.5, width: 400, height: 225 });
  });

  it('has none before the stream reports its size', () => {
    const rect = displayedVideoRect(
      video({
        offsetLeft: 0,
        offsetTop: 0,
        clientLeft: 0,
        clientTop: 0,
        clientWidth: 400,
        clientHeight: 400,
        videoWidth: 0,
        videoHeight: 0,
      }),
    );
    assert.equal(rect, null);
  });
});
