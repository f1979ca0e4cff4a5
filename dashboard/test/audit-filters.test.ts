import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUDIT_ACTIONS,
  auditQuery,
  auditSearch,
  badRange,
  detailText,
  NO_FILTERS,
  parseAuditFilters,
} from '../features/audit/audit-filters.ts';

describe('audit filters', () => {
  it('reads the actions from the contract', () => {
    assert.ok(AUDIT_ACTIONS.includes('user_create'));
    assert.ok(AUDIT_ACTIONS.includes('audit_export'));
  });

  it('reads the URL, leaving out what the master would refuse', () => {
    assert.deepEqual(
      parseAuditFilters({
        user: ' Guard.One ',
        action: 'user_create',
        camera: 'cam-1',
        node: ['edge-1', 'edge-2'],
        from: '2026-01-01T00:00:00+01:00',
        to: 'yesterday-ish',
      }),
      {
        user: 'Guard.One',
        action: 'user_create',
        camera: 'cam-1',
        node: 'edge-1',
        from: '2025-12-31T23:00:00.000Z',
        to: null,
      },
    );
    assert.deepEqual(parseAuditFilters({ action: 'drop_tables', camera: 'Bad Id', node: '' }), NO_FILTERS);
    assert.equal(parseAuditFilters({ user: 'x'.repeat(65) }).user, null);
  });

  it('makes the same query for a page and for the CSV, without empty fields', () => {
    assert.deepEqual(auditQuery(NO_FILTERS), {});
    const f = { ...NO_FILTERS, user: 'admin', node: 'edge-1', from: '2026-01-01T00:00:00.000Z' };
    assert.deepEqual(auditQuery(f), { user: 'admin', node: 'edge-1', from: '2026-01-01T00:00:00.000Z' });
    assert.equal(auditSearch(f), '?user=admin&node=edge-1&from=2026-01-01T00%3A00%3A00.000Z');
    assert.equal(auditSearch(NO_FILTERS), '');
    assert.deepEqual(parseAuditFilters(Object.fromEntries(new URLSearchParams(auditSearch(f)))), f);
  });

  it('sees a range that reads backwards', () => {
    const at = (from: string, to: string) => ({ ...NO_FILTERS, from, to });
    assert.equal(badRange(at('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z')), true);
    assert.equal(badRange(at('2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')), true);
    assert.equal(badRange(at('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')), false);
    assert.equal(badRange({ ...NO_FILTERS, from: '2026-01-01T00:00:00Z' }), false);
  });

  it('writes a detail in one line', () => {
    assert.equal(detailText(null), '');
    assert.equal(detailText({ user: 'x', cameras: ['a'] }), 'user: x, cameras: ["a"]');
    assert.equal(detailText('text'), '"text"');
  });
});
