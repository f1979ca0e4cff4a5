import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAge, formatBytes, formatPercent } from '../lib/format.ts';

describe('formatAge', () => {
  const now = Date.parse('2026-03-01T12:00:00.000Z');
  const ago = (ms: number) => formatAge(new Date(now - ms).toISOString(), now);

  it('counts seconds, minutes, hours and days', () => {
    assert.equal(ago(0), '0s ago');
    assert.equal(ago(59_000), '59s ago');
    assert.equal(ago(60_000), '1m 0s ago');
    assert.equal(ago(3_599_000), '59m 59s ago');
    assert.equal(ago(3_600_000), '1h 0m ago');
    assert.equal(ago(86_399_000), '23h 59m ago');
    assert.equal(ago(86_400_000), '1d ago');
    assert.equal(ago(9 * 86_400_000 + 5), '9d ago');
  });

  it('rounds to the nearest second and takes a time ahead of the clock as now', () => {
    assert.equal(ago(1_499), '1s ago');
    assert.equal(ago(1_500), '2s ago');
    assert.equal(ago(-30_000), '0s ago');
  });

  it('shows the UTC time of day before the clock is known (server render)', () => {
    assert.equal(formatAge('2026-03-01T13:04:05.678+01:00', null), '12:04:05');
  });

  it('shows a dash for no time or a bad one', () => {
    assert.equal(formatAge(null, now), '—');
    assert.equal(formatAge('', now), '—');
    assert.equal(formatAge('last tuesday', now), '—');
    assert.equal(formatAge('last tuesday', null), '—');
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal below 100', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1024), '1.0 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(150 * 1024), '150 KiB');
    assert.equal(formatBytes(4e9), '3.7 GiB');
    assert.equal(formatBytes(2 * 1024 ** 4), '2.0 TiB');
  });

  it('stops at TiB', () => {
    assert.equal(formatBytes(3 * 1024 ** 5), '3072 TiB');
  });

  it('moves up a unit when rounding reaches 1024', () => {
    assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB');
    assert.equal(formatBytes(1024 ** 3 - 100), '1.0 GiB');
  });

  it('shows a dash for a missing or non-finite figure', () => {
    assert.equal(formatBytes(null), '—');
    assert.equal(formatBytes(undefined), '—');
    assert.equal(formatBytes(Number.NaN), '—');
    assert.equal(formatBytes(Number.POSITIVE_INFINITY), '—');
  });
});

describe('formatPercent', () => {
  it('writes one decimal, or a dash', () => {
    assert.equal(formatPercent(0), '0.0%');
    assert.equal(formatPercent(37.46), '37.5%');
    assert.equal(formatPercent(250), '250.0%');
    assert.equal(formatPercent(null), '—');
    assert.equal(formatPercent(undefined), '—');
    assert.equal(formatPercent(Number.NaN), '—');
  });
});
