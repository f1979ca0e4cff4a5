import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  isLoopbackAddress,
  metricsAccessFromEnv,
  metricsAllowed,
  metricsVerdict,
  publicMetricsWarning,
} from '../src/index.ts';

const TOKEN = 'scrape-token-0123456789';

test('loopback peers are 127.0.0.0/8 and ::1, also IPv4-mapped; nothing else is', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])
    assert.equal(isLoopbackAddress(a), true, a);
  for (const a of [
    '10.0.0.1',
    '::ffff:10.0.0.1',
    '128.0.0.1',
    '::',
    '::2',
    'fe80::1',
    '',
    undefined,
    'localhost',
  ])
    assert.equal(isLoopbackAddress(a), false, String(a));
});

test('without a token /metrics is open; with one, remote peers need it and loopback ones do not', () => {
  const open = { token: null, loopback: 'exempt' as const };
  assert.equal(metricsVerdict(open, '192.0.2.1', undefined), 'open');
  const access = { token: TOKEN, loopback: 'exempt' as const };
  assert.equal(metricsVerdict(access, '127.0.0.1', undefined), 'loopback');
  assert.equal(metricsVerdict(access, '::ffff:127.0.0.1', undefined), 'loopback');
  assert.equal(metricsVerdict(access, '192.0.2.1', undefined), 'missing');
  assert.equal(metricsVerdict(access, '192.0.2.1', `Basic ${TOKEN}`), 'missing');
  assert.equal(metricsVerdict(access, '192.0.2.1', 'Bearer wrong'), 'wrong');
  assert.equal(metricsVerdict(access, '192.0.2.1', `Bearer ${TOKEN}x`), 'wrong');
  assert.equal(metricsVerdict(access, '192.0.2.1', `Bearer ${TOKEN}`), 'token');
  assert.equal(metricsVerdict(access, '192.0.2.1', `bearer ${TOKEN}`), 'token');
  const strict = { token: TOKEN, loopback: 'required' as const };
  assert.equal(metricsVerdict(strict, '127.0.0.1', undefined), 'missing');
  assert.equal(metricsVerdict(strict, '::1', `Bearer ${TOKEN}`), 'token');
  assert.deepEqual((['open', 'loopback', 'token', 'missing', 'wrong'] as const).map(metricsAllowed), [
    true,
    true,
    true,
    false,
    false,
  ]);
});

test('the token comes from <PREFIX>_METRICS_TOKEN or its _FILE, checked', () => {
  assert.deepEqual(metricsAccessFromEnv({}, 'MASTER'), { token: null, loopback: 'exempt' });
  assert.deepEqual(metricsAccessFromEnv({ MASTER_METRICS_TOKEN: TOKEN }, 'MASTER'), {
    token: TOKEN,
    loopback: 'exempt',
  });
  const file = join(mkdtempSync(join(tmpdir(), 'cctv-metrics-')), 'token');
  writeFileSync(file, `${TOKEN}\n`);
  assert.equal(metricsAccessFromEnv({ GATEWAY_METRICS_TOKEN_FILE: file }, 'GATEWAY').token, TOKEN);
  assert.equal(
    metricsAccessFromEnv(
      { GATEWAY_METRICS_TOKEN: TOKEN, GATEWAY_METRICS_TOKEN_LOOPBACK: 'required' },
      'GATEWAY',
    ).loopback,
    'required',
  );
  assert.throws(
    () => metricsAccessFromEnv({ MASTER_METRICS_TOKEN: 'short' }, 'MASTER'),
    /MASTER_METRICS_TOKEN must/,
  );
  assert.throws(
    () => metricsAccessFromEnv({ MASTER_METRICS_TOKEN: TOKEN, MASTER_METRICS_TOKEN_FILE: file }, 'MASTER'),
    /both set/,
  );
  assert.throws(
    () => metricsAccessFromEnv({ MASTER_METRICS_TOKEN_FILE: `${file}.none` }, 'MASTER'),
    /does not exist/,
  );
  assert.throws(
    () => metricsAccessFromEnv({ MASTER_METRICS_TOKEN_LOOPBACK: 'off' }, 'MASTER'),
    /MASTER_METRICS_TOKEN_LOOPBACK must be exempt or required/,
  );
});

test('a public /metrics is worth a warning only on a listener other hosts reach', () => {
  const open = { token: null, loopback: 'exempt' as const };
  assert.match(publicMetricsWarning(open, '0.0.0.0', 'MASTER_METRICS_TOKEN') ?? '', /MASTER_METRICS_TOKEN/);
  assert.equal(publicMetricsWarning(open, '127.0.0.1', 'MASTER_METRICS_TOKEN'), null);
  assert.equal(publicMetricsWarning(open, '::1', 'MASTER_METRICS_TOKEN'), null);
  assert.equal(publicMetricsWarning({ token: TOKEN, loopback: 'exempt' }, '0.0.0.0', 'X'), null);
});
