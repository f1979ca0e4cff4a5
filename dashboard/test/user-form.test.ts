import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserView } from '@cctv/protocol';
import {
  accessChanged,
  accessOf,
  accessSummary,
  choiceOf,
  createRequest,
  ROLES,
  sortUsers,
} from '../features/users/user-form.ts';

const user = (over: Partial<UserView>): UserView => ({
  id: 'u',
  username: 'u',
  role: 'viewer',
  cameras: [],
  disabled: false,
  totpEnabled: false,
  createdAt: '2026-01-01T00:00:00Z',
  lastLoginAt: null,
  ...over,
});

describe('user form', () => {
  it('reads the roles from the contract, least first', () => {
    assert.deepEqual(ROLES, ['viewer', 'operator', 'admin']);
  });

  it('turns the camera choice into the access the master takes, and back', () => {
    assert.equal(accessOf({ all: true, ids: ['a'] }), 'all');
    assert.deepEqual(accessOf({ all: false, ids: ['b', 'a', 'b'] }), ['a', 'b']);
    assert.deepEqual(choiceOf('all'), { all: true, ids: [] });
    assert.deepEqual(choiceOf(['x']), { all: false, ids: ['x'] });
  });

  it('builds the create request, or says what is missing', () => {
    const cameras = { all: false, ids: ['cam-1'] };
    assert.deepEqual(createRequest({ username: ' Guard ', password: 'pw', role: 'viewer', cameras }), {
      username: 'Guard',
      password: 'pw',
      role: 'viewer',
      cameras: ['cam-1'],
    });
    assert.deepEqual(createRequest({ username: '', password: 'pw', role: 'viewer', cameras }), {
      problem: 'a username is needed',
    });
    assert.deepEqual(createRequest({ username: 'g', password: '', role: 'viewer', cameras }), {
      problem: 'a password is needed',
    });
    assert.match(
      (
        createRequest({ username: 'g', password: 'p', role: 'admin', cameras: { all: false, ids: [] } }) as {
          problem: string;
        }
      ).problem,
      /at least one camera/,
    );
  });

  it('sums up access by camera name, and sees whether it changed', () => {
    const names = new Map([['cam-1', 'Gate']]);
    assert.equal(accessSummary('all', names), 'all cameras');
    assert.equal(accessSummary([], names), 'no cameras');
    assert.equal(accessSummary(['cam-1', 'cam-2'], names), 'Gate, cam-2');
    assert.equal(accessChanged(user({ cameras: ['b', 'a'] }), { all: false, ids: ['a', 'b'] }), false);
    assert.equal(accessChanged(user({ cameras: ['a'] }), { all: true, ids: [] }), true);
    assert.equal(accessChanged(user({ cameras: 'all' }), { all: true, ids: [] }), false);
  });

  it('lists admins first, then by name', () => {
    const sorted = sortUsers([
      user({ username: 'b' }),
      user({ username: 'z', role: 'admin' }),
      user({ username: 'a', role: 'operator' }),
    ]);
    assert.deepEqual(
      sorted.map((u) => u.username),
      ['z', 'a', 'b'],
    );
  });
});
