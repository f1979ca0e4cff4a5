import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  containsPoint,
  hitEdge,
  hitPolygon,
  hitVertex,
  insertPoint,
  labelPoint,
  movePoint,
  normalise,
  type Point,
  polygonArea,
  removePoint,
  screenDistance,
  svgPoints,
} from '../features/cameras/zone-geometry.ts';

const wide = { width: 1600, height: 900 };
const square: Point[] = [
  [0.1, 0.1],
  [0.5, 0.1],
  [0.5, 0.5],
  [0.1, 0.5],
];

describe('normalise', () => {
  it('turns screen positions into picture shares, rounded to four decimals', () => {
    assert.deepEqual(normalise(800, 450, wide), [0.5, 0.5]);
    assert.deepEqual(normalise(1, 1, { width: 3, height: 3 }), [0.3333, 0.3333]);
  });

  it('clamps a position outside the picture to its edge', () => {
    assert.deepEqual(normalise(-20, 2000, wide), [0, 1]);
    assert.deepEqual(normalise(5, 5, { width: 0, height: 0 }), [0, 0]);
  });
});

describe('hit-testing', () => {
  it('measures distances on screen, not in shares', () => {
    assert.equal(screenDistance([0, 0], [0.01, 0], wide), 16);
    assert.equal(screenDistance([0, 0], [0, 0.01], wide), 9);
  });

  it('finds the nearest vertex within the radius, the later polygon on a tie', () => {
    const other: Point[] = [
      [0.1, 0.1],
      [0.2, 0.1],
      [0.2, 0.2],
    ];
    assert.deepEqual(hitVertex([square, other], [0.1, 0.1], wide, 8), { polygon: 1, point: 0 });
    assert.deepEqual(hitVertex([square], [0.503, 0.5], wide, 8), { polygon: 0, point: 2 });
    assert.equal(hitVertex([square], [0.51, 0.5], wide, 8), null);
  });

  it('tells inside from outside, and picks the topmost polygon', () => {
    assert.equal(containsPoint(square, [0.3, 0.3]), true);
    assert.equal(containsPoint(square, [0.6, 0.3]), false);
    const concave: Point[] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [0.5, 0.2],
      [0, 1],
    ];
    assert.equal(containsPoint(concave, [0.5, 0.5]), false);
    assert.equal(containsPoint(concave, [0.5, 0.1]), true);
    const inner: Point[] = [
      [0.2, 0.2],
      [0.3, 0.2],
      [0.3, 0.3],
    ];
    assert.equal(hitPolygon([square, inner], [0.28, 0.22]), 1);
    assert.equal(hitPolygon([square, inner], [0.15, 0.4]), 0);
    assert.equal(hitPolygon([square, inner], [0.9, 0.9]), -1);
  });

  it('finds the edge near a position as the index to insert at', () => {
    assert.equal(hitEdge(square, [0.3, 0.102], wide, 6), 1);
    assert.equal(hitEdge(square, [0.1, 0.3], wide, 6), 4);
    assert.equal(hitEdge(square, [0.3, 0.3], wide, 6), -1);
  });
});

describe('edits', () => {
  it('moves a point, clamped into the picture, without touching the original', () => {
    const moved = movePoint(square, 2, [1.2, -0.1]);
    assert.deepEqual(moved[2], [1, 0]);
    assert.deepEqual(square[2], [0.5, 0.5]);
  });

  it('inserts and removes points', () => {
    const more = insertPoint(square, 1, [0.3, 0.1]);
    assert.equal(more.length, 5);
    assert.deepEqual(more[1], [0.3, 0.1]);
    assert.deepEqual(removePoint(more, 1), square);
  });

  it('computes areas, labels and SVG points', () => {
    assert.ok(Math.abs(polygonArea(square) - 0.16) < 1e-12);
    assert.equal(
      polygonArea([
        [0, 0],
        [0.5, 0.5],
        [1, 1],
      ]),
      0,
    );
    const [lx, ly] = labelPoint(square);
    assert.ok(Math.abs(lx - 0.3) < 1e-12 && Math.abs(ly - 0.3) < 1e-12);
    assert.equal(svgPoints(square.slice(0, 2), 16, 9), '1.6,0.9 8,0.9');
  });
});
