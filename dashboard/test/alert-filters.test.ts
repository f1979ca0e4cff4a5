import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ALERT_KINDS,
  ALERT_SEVERITIES,
  alertQuery,
  alertSearch,
  matchesAlertFilters,
  NO_ALERT_FILTERS,
  parseAlertFilters,
} from '../features/alerts/alert-filters.ts';
import { alertView } from './support/views.ts';

describe('alert filters', () => {
  it('reads the kinds and severities from the contract', () => {
    assert.ok(ALERT_KINDS.includes('detection'));
    assert.ok(ALERT_KINDS.includes('clock_skew'));
    assert.deepEqual([...ALERT_SEVERITIES], ['info', 'warning', 'critical']);
  });

  it('reads the URL, leaving out what the master would refuse', () => {
    assert.deepEqual(
      parseAlertFilters({
        state: 'open',
        acknowledged: 'false',
        kind: ['node_offline', 'detection'],
        severity: ' critical ',
        node: 'edge-1',
        camera: 'gate-cam',
      }),
      {
        state: 'open',
        acknowledged: false,
        kind: 'node_offline',
        severity: 'critical',
        node: 'edge-1',
        camera: 'gate-cam',
      },
    );
    assert.deepEqual(
      parseAlertFilters({
        state: 'closed',
        acknowledged: 'maybe',
        kind: 'fire',
        severity: 'meh',
        node: 'Bad Id',
      }),
      NO_ALERT_FILTERS,
    );
    assert.equal(parseAlertFilters({ acknowledged: 'true' }).acknowledged, true);
  });

  it('builds the master query and the page address, without empty filters', () => {
    const f = { ...NO_ALERT_FILTERS, acknowledged: false, kind: 'detection' as const, camera: 'gate' };
    assert.deepEqual(alertQuery(f), { acknowledged: false, kind: 'detection', camera: 'gate' });
    assert.equal(alertSearch(f), '?acknowledged=false&kind=detection&camera=gate');
    assert.equal(alertSearch(NO_ALERT_FILTERS), '');
    assert.deepEqual(parseAlertFilters(Object.fromEntries(new URLSearchParams(alertSearch(f)))), f);
  });

  it('tells whether a live alert belongs in the filtered list', () => {
    const a = alertView({ kind: 'detection', state: 'resolved', cameraId: 'gate', nodeId: 'edge-1' });
    assert.equal(matchesAlertFilters(a, NO_ALERT_FILTERS), true);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, camera: 'gate', node: 'edge-1' }), true);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, state: 'open' }), false);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, acknowledged: true }), false);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, acknowledged: false }), true);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, severity: 'critical' }), false);
    assert.equal(matchesAlertFilters(a, { ...NO_ALERT_FILTERS, kind: 'security' }), false);
  });
});
