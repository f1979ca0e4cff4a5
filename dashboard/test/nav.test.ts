import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCurrent, NAV, navFor, settingsFor } from '../lib/nav.ts';

const hrefs = (items: readonly { href: string }[]) => items.map((i) => i.href);

describe('navFor', () => {
  it('shows nothing to a visitor without a role', () => {
    assert.deepEqual(navFor(null), []);
    assert.deepEqual(settingsFor(null), []);
  });

  it('shows each role the pages of its rank and below, in the bar order', () => {
    assert.deepEqual(hrefs(navFor('viewer')), ['/wall', '/', '/timeline', '/events', '/alerts']);
    assert.deepEqual(hrefs(navFor('operator')), [
      '/wall',
      '/',
      '/timeline',
      '/events',
      '/alerts',
      '/exports',
      '/settings',
    ]);
    assert.deepEqual(hrefs(navFor('admin')), hrefs(NAV));
  });

  it('gives operators the camera settings and admins users, nodes, the audit log and alerts too', () => {
    assert.deepEqual(hrefs(settingsFor('viewer')), []);
    assert.deepEqual(hrefs(settingsFor('operator')), ['/settings/cameras']);
    assert.deepEqual(hrefs(settingsFor('admin')), [
      '/settings/users',
      '/settings/nodes',
      '/settings/audit',
      '/settings/alerts',
      '/settings/cameras',
    ]);
    assert.equal(hrefs(navFor('viewer')).includes('/exports'), false);
  });

  it('marks the current entry, and its sub-pages, but not every page as the fleet', () => {
    assert.equal(isCurrent('/', '/'), true);
    assert.equal(isCurrent('/', '/events'), false);
    assert.equal(isCurrent('/settings', '/settings/users'), true);
    assert.equal(isCurrent('/events', '/events/123'), true);
    assert.equal(isCurrent('/events', '/eventsx'), false);
  });
});
