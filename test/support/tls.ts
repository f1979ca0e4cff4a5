/**
 * The test run's TLS: scripts/test.mjs makes a CA and one certificate for the loopback names
 * (`CCTV_TEST_TLS_DIR`) and has every test process trust the CA (`NODE_EXTRA_CA_CERTS`), so
 * that services speak HTTPS, MQTT over TLS and wss:// as in production, verified.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spkiSha256 } from '@cctv/tls';

export interface TestTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The run's CA and certificate; fails clearly when the test was not started by scripts/test.mjs. */
export function testTls(): TestTls {
  const dir = process.env.CCTV_TEST_TLS_DIR;
  if (!dir || !existsSync(join(dir, 'ca.crt')))
    throw new Error(
      "tests need the run's TLS certificates: run them with `node scripts/test.mjs <file>` (it sets CCTV_TEST_TLS_DIR and NODE_EXTRA_CA_CERTS)",
    );
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/** The environment that makes the master, the gateway and the dashboard serve TLS. */
export function serviceTlsEnv(): Record<string, string> {
  const t = testTls();
  return {
    MASTER_TLS_CERT: t.certFile,
    MASTER_TLS_KEY: t.keyFile,
    // The broker's TLS listener on a free port, never the default 8883 of a running cluster.
    MQTT_TLS_PORT: '0',
    MQTT_TLS_CERT: t.certFile,
    MQTT_TLS_KEY: t.keyFile,
    GATEWAY_TLS_CERT: t.certFile,
    GATEWAY_TLS_KEY: t.keyFile,
    DASHBOARD_TLS_CERT: t.certFile,
    DASHBOARD_TLS_KEY: t.keyFile,
    NODE_EXTRA_CA_CERTS: t.caFile,
  };
}

/** The run's CA, PEM (for clients given an explicit trust anchor). */
export function testCa(): Buffer {
  return readFileSync(testTls().caFile);
}

/** The base64 SHA-256 of the services' public key: Chromium trusts exactly that key. */
export async function testSpki(): Promise<string> {
  return spkiSha256(readFileSync(testTls().certFile, 'utf8'));
}

/** An agent config's `tls`: pinned to the run's CA, its live view on wss:// with the run's certificate. */
export function agentTlsConfig(): { ca: string; cert: string; key: string } {
  const t = testTls();
  return { ca: t.caFile, cert: t.certFile, key: t.keyFile };
}
