import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NAV, navFor } from '../lib/nav.ts';

const hrefs = (items: readonly { href: string }[]) => items.map((i) => i.href);

describe('navFor', () => {
  it('shows nothing to a visitor without a role', () => {
    assert.deepEqual(navFor(null), []);
  });

  it('shows each role the pages of its rank and below, in the bar order', () => {
    assert.deepEqual(hrefs(navFor('viewer')), ['/wall', '/', '/timeline', '/events']);
    assert.deepEqual(hrefs(navFor('operator')), ['/wall', '/', '/timeline', '/events', '/exports']);
    assert.deepEqual(hrefs(navFor('admin')), hrefs(NAV));
  });

  it('keeps the user list to admins and exports from viewers', () => {
    assert.equal(hrefs(navFor('operator')).includes('/users'), false);
    assert.equal(hrefs(navFor('viewer')).includes('/exports'), false);
    assert.equal(hrefs(navFor('admin')).includes('/users'), true);
  });
});
