/**
 * The central services for browser tests: a master (embedded broker, first admin from
 * TEST_ADMIN_PASSWORD, the dashboard trusted as a proxy) and a storage gateway on one
 * database, both on free loopback ports, signed in as the admin once both answer.
 */
import { join } from 'node:path';
import { dashboardOrigin } from './dashboard.ts';
import { freePort, type ServiceProcess, startService, type TestDatabase, waitFor } from './index.ts';
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from './session.ts';

export interface Central {
  masterUrl: string;
  gatewayUrl: string;
  /** The port the dashboard is to listen on: the master and the gateway allow its origin. */
  dashboardPort: number;
  /** The broker's TLS listener (what nodes use); `mqttUrl` is its loopback clear-text one. */
  mqttsUrl: string;
  mqttUrl: string;
  master: ServiceProcess;
  gateway: ServiceProcess;
  admin: ApiSession;
}

/** `db`: the test database; the master and the gateway each log in as their own role. */
export async function startCentral(
  db: TestDatabase,
  dir: string,
  env: Record<string, string> = {},
  /** The gateway's own settings (`GATEWAY_…`). */
  gatewayEnv: Record<string, string> = {},
): Promise<Central> {
  const [httpPort, mqttPort, mqttTlsPort, gatewayPort, dashboardPort] = (await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ])) as [number, number, number, number, number];
  const dashboardUrl = dashboardOrigin(dashboardPort);
  const masterUrl = `https://127.0.0.1:${httpPort}`;
  const gatewayUrl = `https://127.0.0.1:${gatewayPort}`;
  const master = startService('master/src/main.ts', {
    DATABASE_URL: db.url,
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(httpPort),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(mqttPort),
    MQTT_TLS_HOST: '127.0.0.1',
    MQTT_TLS_PORT: String(mqttTlsPort),
    MASTER_DATA_DIR: join(dir, 'master'),
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    // The dashboard server forwards sign-ins and API calls from this host.
    MASTER_TRUST_PROXY: '127.0.0.1,::1',
    GATEWAY_PUBLIC_URL: gatewayUrl,
    DASHBOARD_PUBLIC_URL: dashboardUrl,
    ...env,
  });
  const gateway = startService('storage-gateway/src/main.ts', {
    DATABASE_URL: db.gateway,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_DATA_DIR: join(dir, 'gateway'),
    GATEWAY_NAS_DIR: join(dir, 'nas'),
    DASHBOARD_PUBLIC_URL: dashboardUrl,
    ...gatewayEnv,
  });
  const admin = await waitFor('master HTTP API', () => signInAdmin(masterUrl), 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
  });
  await waitFor('gateway', async () => (await fetch(`${gatewayUrl}/healthz`)).ok, 60_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n--- gateway output ---\n${gateway.output()}`);
    },
  );
  return {
    masterUrl,
    gatewayUrl,
    dashboardPort,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    mqttsUrl: `mqtts://127.0.0.1:${mqttTlsPort}`,
    master,
    gateway,
    admin,
  };
}
