/**
 * Prometheus figures every service exposes beside its own: the Node.js process metrics, and
 * when the service serves TLS, the expiry time of its certificate. Shared so that the master,
 * the gateway and the agent pass `promtool check metrics` the same way.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/**
 * prom-client's gauges named like counters (`promtool check metrics`: non-counter metrics
 * should not have "_total" suffix). Each has a sibling without the suffix, labelled by
 * `type`, whose sum is the same count: `sum(nodejs_active_handles)`.
 */
const COUNTER_LIKE_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** prom-client's default process and Node.js metrics, less the ones promtool refuses. */
export function registerDefaultMetrics(registry: Registry, prefix = ''): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of COUNTER_LIKE_GAUGES) registry.removeSingleMetric(prefix + name);
}

export const CERT_EXPIRY_METRIC = 'cctv_tls_cert_expiry_timestamp_seconds';

/** When the PEM certificate (the first of a chain) in `file` stops being valid; null if unreadable. */
export function certificateNotAfter(file: string): Date | null {
  try {
    const notAfter = Date.parse(new X509Certificate(readFileSync(file)).validTo);
    return Number.isNaN(notAfter) ? null : new Date(notAfter);
  } catch {
    return null;
  }
}

/**
 * `cctv_tls_cert_expiry_timestamp_seconds{listener}`: the certificate each listener serves,
 * read from its file at every scrape, so a renewed file (which the listeners reload) shows at
 * once. A listener without a file, or whose file cannot be read, gives no series.
 */
export function registerCertificateExpiry(
  registry: Registry,
  files: Record<string, string | null | undefined>,
): void {
  const listed = Object.entries(files).filter((e): e is [string, string] => !!e[1]);
  if (listed.length === 0) return;
  new Gauge({
    name: CERT_EXPIRY_METRIC,
    help: 'Unix time at which the TLS certificate served by this listener expires (notAfter)',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [listener, file] of listed) {
        const notAfter = certificateNotAfter(file);
        if (notAfter) this.set({ listener }, notAfter.getTime() / 1000);
      }
    },
  });
}
