import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zd from '../features/cameras/zone-draft.ts';
import type { Point } from '../features/cameras/zone-geometry.ts';

const tri: Point[] = [
  [0.1, 0.1],
  [0.5, 0.1],
  [0.3, 0.5],
];

function drawn(draft: zd.ZoneDraft, points: Point[]): zd.ZoneDraft {
  return zd.finishDrawing(points.reduce(zd.addPoint, draft));
}

describe('the zone draft', () => {
  it('reads a camera’s zones and masks and leaves an empty draft for none', () => {
    const d = zd.draftOf({
      fps: 5,
      motion: { sensitivity: 7, zones: [{ name: 'door', points: tri }], masks: [tri] },
    });
    assert.deepEqual(d.zones, [{ name: 'door', points: tri }]);
    assert.deepEqual(d.masks, [tri]);
    assert.equal(d.mode, 'zones');
    assert.deepEqual(zd.draftOf(null), {
      zones: [],
      masks: [],
      mode: 'zones',
      selected: null,
      drawing: null,
    });
  });

  it('draws a zone point by point, names it and selects it', () => {
    const d = drawn(zd.draftOf(null), tri);
    assert.deepEqual(d.zones, [{ name: 'zone-1', points: tri }]);
    assert.deepEqual(d.selected, { polygon: 0, point: null });
    assert.equal(d.drawing, null);
    assert.equal(zd.nextZoneName([{ name: 'zone-2', points: tri }]), 'zone-3');
  });

  it('drops a polygon closed with fewer than three points, or cancelled', () => {
    assert.deepEqual(drawn(zd.draftOf(null), tri.slice(0, 2)).zones, []);
    const half = zd.addPoint(zd.addPoint(zd.draftOf(null), [0, 0]), [1, 0]);
    assert.equal(zd.cancelDrawing(half).drawing, null);
    assert.deepEqual(zd.cancelDrawing(half).zones, []);
  });

  it('keeps masks apart from zones, closing the polygon being drawn on a switch', () => {
    let d = zd.setMode(zd.draftOf(null), 'masks');
    d = tri.reduce(zd.addPoint, d);
    d = zd.setMode(d, 'zones');
    assert.deepEqual(d.masks, [tri]);
    assert.deepEqual(d.zones, []);
    assert.equal(d.selected, null);
  });

  it('moves, inserts and deletes points; a triangle losing one is deleted', () => {
    let d = drawn(zd.draftOf(null), tri);
    d = zd.moveVertex(d, 0, 2, [0.3, 0.9]);
    assert.deepEqual(d.zones[0]?.points[2], [0.3, 0.9]);
    d = zd.insertVertex(d, 0, 1, [0.3, 0.1]);
    assert.equal(d.zones[0]?.points.length, 4);
    assert.deepEqual(d.selected, { polygon: 0, point: 1 });
    d = zd.deleteVertex(d, 0, 1);
    assert.equal(d.zones[0]?.points.length, 3);
    d = zd.deleteVertex(d, 0, 0);
    assert.deepEqual(d.zones, []);
    assert.equal(d.selected, null);
  });

  it('deletes a whole polygon of the current mode only', () => {
    let d = drawn(zd.draftOf(null), tri);
    d = drawn(zd.setMode(d, 'masks'), tri);
    d = zd.deletePolygon(d, 0);
    assert.equal(d.masks.length, 0);
    assert.equal(d.zones.length, 1);
  });

  it('puts zones and masks back into detect, leaving out what is empty and keeping the rest', () => {
    const detect = { fps: 5, motion: { sensitivity: 7, zones: [{ name: 'old', points: tri }] } };
    let d = zd.draftOf(detect);
    d = zd.renameZone(d, 0, 'door');
    d = drawn(zd.setMode(d, 'masks'), tri);
    assert.deepEqual(zd.toDetect(detect, d), {
      fps: 5,
      motion: { sensitivity: 7, zones: [{ name: 'door', points: tri }], masks: [tri] },
    });
    assert.deepEqual(zd.toDetect(detect, zd.draftOf(null)), { fps: 5, motion: { sensitivity: 7 } });
    assert.deepEqual(zd.toDetect(null, zd.draftOf(null)), {});
    assert.deepEqual(zd.toDetect({ fps: 2 }, drawn(zd.draftOf(null), tri)), {
      fps: 2,
      motion: { zones: [{ name: 'zone-1', points: tri }] },
    });
  });

  it('says what keeps it from being saved', () => {
    let d = drawn(drawn(zd.draftOf(null), tri), tri);
    assert.deepEqual(zd.draftProblems(d), []);
    d = zd.renameZone(d, 1, 'zone-1');
    assert.deepEqual(zd.draftProblems(d), ['Zone "zone-1" is named twice.']);
    d = zd.renameZone(d, 1, ' bad');
    assert.match(zd.draftProblems(d)[0] ?? '', /Zone " bad": a name is/);
    d = zd.addPoint(zd.renameZone(d, 1, 'ok'), [0, 0]);
    assert.deepEqual(zd.draftProblems(d), ['Finish or cancel the polygon being drawn.']);
    const flat = drawn(zd.draftOf(null), [
      [0, 0],
      [0.5, 0.5],
      [1, 1],
    ]);
    assert.deepEqual(zd.draftProblems(flat), ['Zone "zone-1" has no area.']);
  });
});
