import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { ensureCertificate, ensureLocalCa } from '../src/index.ts';
import { registerCertificateExpiry, registerDefaultMetrics } from '../src/service-metrics.ts';

const dir = await mkdtemp(join(tmpdir(), 'cctv-service-metrics-'));
after(() => rm(dir, { recursive: true, force: true }));

test('default metrics keep every process figure but the gauges named like counters', async () => {
  for (const prefix of ['', 'cctv_agent_']) {
    const registry = new Registry();
    registerDefaultMetrics(registry, prefix);
    const text = await registry.metrics();
    for (const kind of ['handles', 'requests', 'resources']) {
      assert.doesNotMatch(text, new RegExp(`^# TYPE ${prefix}nodejs_active_${kind}_total `, 'm'));
      // The count by type stays: its sum is the total.
      assert.match(text, new RegExp(`^# TYPE ${prefix}nodejs_active_${kind} gauge$`, 'm'));
    }
    assert.match(text, new RegExp(`^${prefix}process_cpu_user_seconds_total `, 'm'));
    assert.match(text, new RegExp(`^${prefix}nodejs_heap_size_used_bytes `, 'm'));
  }
});

test('the certificate gauge reads each listener file at every scrape', async () => {
  const ca = await ensureLocalCa(join(dir, 'ca'));
  const now = new Date('2026-03-01T00:00:00Z');
  const cert = await ensureCertificate(ca, join(dir, 'certs'), 'svc', {
    names: ['localhost'],
    days: 20,
    now,
  });
  const registry = new Registry();
  registerCertificateExpiry(registry, {
    https: cert.certFile,
    mqtt: join(dir, 'missing.crt'),
    live: undefined,
  });
  const value = async () => {
    const metric = await registry.getSingleMetric('cctv_tls_cert_expiry_timestamp_seconds')?.get();
    return metric?.values.map((v) => [v.labels.listener, v.value]);
  };
  // Whole seconds in the certificate: notAfter as issued, rounded down.
  assert.deepEqual(await value(), [['https', Math.floor(cert.notAfter.getTime() / 1000)]]);
  // A renewed file shows at the next scrape; an unreadable one gives no series.
  const renewed = await ensureCertificate(ca, join(dir, 'renewed'), 'svc', {
    names: ['localhost'],
    days: 90,
    now,
  });
  await writeFile(cert.certFile, await readFile(renewed.certFile));
  assert.deepEqual(await value(), [['https', Math.floor(renewed.notAfter.getTime() / 1000)]]);
  await writeFile(cert.certFile, 'not a certificate');
  assert.deepEqual(await value(), []);
  // No file at all: no gauge.
  const none = new Registry();
  registerCertificateExpiry(none, { https: null });
  assert.equal(none.getSingleMetric('cctv_tls_cert_expiry_timestamp_seconds'), undefined);
});
