import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CameraOwners, UnregisteredCameraGrace } from '../src/auth/camera-owners.ts';

describe('camera owners', () => {
  it('takes uploads from the owner only, and looks an owner up once per cache period', async () => {
    let t = 0;
    const owners = new Map([['cam-a', 'node-a']]);
    let lookups = 0;
    const o = new CameraOwners({
      source: {
        owner: async (camera) => {
          lookups++;
          return owners.get(camera) ?? null;
        },
      },
      cacheMs: 10_000,
      unknownCacheMs: 1000,
      now: () => t,
    });
    assert.deepEqual(await o.check('node-a', 'cam-a'), { ok: true });
    assert.deepEqual(await o.check('node-b', 'cam-a'), { ok: false, reason: 'not_owner', owner: 'node-a' });
    assert.deepEqual(await o.check('node-b', 'cam-new'), {
      ok: false,
      reason: 'unknown_camera',
      owner: null,
    });
    assert.equal(lookups, 2);
    // An admin moves the camera: taken within the cache period.
    owners.set('cam-a', 'node-b');
    t = 9_999;
    assert.equal((await o.check('node-b', 'cam-a')).ok, false);
    t = 10_000;
    assert.deepEqual(await o.check('node-b', 'cam-a'), { ok: true });
    // A camera registered meanwhile is seen sooner.
    owners.set('cam-new', 'node-b');
    t = 11_000;
    assert.deepEqual(await o.check('node-b', 'cam-new'), { ok: true });
  });

  it('makes lasting uploads for an unregistered camera an alarm, not a first one', () => {
    let t = 0;
    const grace = new UnregisteredCameraGrace(60_000, () => t);
    assert.equal(grace.overdue('node-a', 'cam-x'), false);
    t = 59_999;
    assert.equal(grace.overdue('node-a', 'cam-x'), false);
    assert.equal(grace.overdue('node-b', 'cam-x'), false, 'each node on its own');
    t = 60_000;
    assert.equal(grace.overdue('node-a', 'cam-x'), true);
    assert.equal(grace.refusedForMs('node-a', 'cam-x'), 60_000);
    assert.equal(new UnregisteredCameraGrace(0).overdue('n', 'c'), true);
  });
});
