import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { columnsOf, fitWall, swapTiles, withLayout } from '../features/live/wall.ts';

describe('columnsOf', () => {
  it('is the side of the square grid', () => {
    assert.deepEqual(
      ([1, 4, 9, 16] as const).map((l) => columnsOf(l)),
      [1, 2, 3, 4],
    );
  });
});

describe('fitWall', () => {
  it('puts the first cameras in a 2×2 grid when nothing is saved', () => {
    assert.deepEqual(fitWall(null, ['a', 'b', 'c', 'd', 'e']), { layout: 4, tiles: ['a', 'b', 'c', 'd'] });
    assert.deepEqual(fitWall(null, ['a', 'b']), { layout: 4, tiles: ['a', 'b', null, null] });
  });

  it('shows one camera, or none, full size', () => {
    assert.deepEqual(fitWall(null, ['a']), { layout: 1, tiles: ['a'] });
    assert.deepEqual(fitWall(null, []), { layout: 1, tiles: [null] });
  });

  it('keeps the saved wall, emptying tiles of cameras the user may no longer see', () => {
    const saved = { layout: 4 as const, tiles: ['a', 'gone', null, 'c'] };
    assert.deepEqual(fitWall(saved, ['c', 'a', 'b']), { layout: 4, tiles: ['a', null, null, 'c'] });
  });

  it('fits saved tiles to the layout: cut when too many, padded when too few', () => {
    assert.deepEqual(fitWall({ layout: 1, tiles: ['a', 'b'] }, ['a', 'b']), { layout: 1, tiles: ['a'] });
    assert.deepEqual(fitWall({ layout: 9, tiles: ['b'] }, ['a', 'b']), {
      layout: 9,
      tiles: ['b', null, null, null, null, null, null, null, null],
    });
  });

  it('keeps a saved layout even without cameras', () => {
    assert.deepEqual(fitWall({ layout: 4, tiles: ['a'] }, []), {
      layout: 4,
      tiles: [null, null, null, null],
    });
  });
});

describe('withLayout', () => {
  const wall = { layout: 4 as const, tiles: ['a', null, 'c', 'd'] };

  it('cuts tiles when the grid shrinks', () => {
    assert.deepEqual(withLayout(wall, 1), { layout: 1, tiles: ['a'] });
  });

  it('pads with empty tiles when it grows', () => {
    assert.deepEqual(withLayout(wall, 9), {
      layout: 9,
      tiles: ['a', null, 'c', 'd', null, null, null, null, null],
    });
  });

  it('leaves the wall it was given alone', () => {
    withLayout(wall, 1);
    assert.deepEqual(wall, { layout: 4, tiles: ['a', null, 'c', 'd'] });
  });
});

describe('swapTiles', () => {
  const wall = { layout: 4 as const, tiles: ['a', null, 'c', 'd'] };

  it('swaps two tiles, an empty one too', () => {
    assert.deepEqual(swapTiles(wall, 0, 3), { layout: 4, tiles: ['d', null, 'c', 'a'] });
    assert.deepEqual(swapTiles(wall, 2, 1), { layout: 4, tiles: ['a', 'c', null, 'd'] });
  });

  it('changes nothing when dropped where it started', () => {
    assert.deepEqual(swapTiles(wall, 2, 2), wall);
  });

  it('leaves the wall it was given alone', () => {
    swapTiles(wall, 0, 1);
    assert.deepEqual(wall.tiles, ['a', null, 'c', 'd']);
  });
});
