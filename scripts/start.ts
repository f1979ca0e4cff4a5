/**
 * Runs the whole local cluster from one command (`npm start`): the master (embedded MQTT broker
 * and embedded PostgreSQL), the storage gateway with a local directory as NAS, one agent with a
 * simulated camera, and the dashboard. Data lives under ./data and is reused on the next start.
 * Ctrl-C stops everything, agent first, master last.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { embeddedDatabaseUrl } from '@cctv/db';
import { RESTART_EXIT_CODE } from '../node-agent/src/link/restart-command.ts';
import { ensureAgentCredentials } from './cluster/agent-credentials.ts';
import { ensureAgentTls } from './cluster/agent-tls.ts';
import { ensureLocalTls } from './cluster/local-tls.ts';
import { formatLine } from './cluster/log-format.ts';

const root = new URL('..', import.meta.url).pathname;
const env = process.env;
const dataDir = resolve(root, env.CCTV_DATA_DIR ?? 'data');
const ports = {
  master: Number(env.MASTER_HTTP_PORT ?? 8080),
  mqtt: Number(env.MQTT_PORT ?? 1883),
  mqtts: Number(env.MQTT_TLS_PORT ?? 8883),
  postgres: Number(env.EMBEDDED_PG_PORT ?? 54329),
  gateway: Number(env.GATEWAY_PORT ?? 8090),
  dashboard: Number(env.DASHBOARD_PORT ?? 3000),
  jsmpeg: Number(env.AGENT_JSMPEG_PORT ?? 8091),
};
const host = env.CCTV_PUBLIC_HOST ?? '127.0.0.1';
// The master's embedded PostgreSQL, with a password file per role (docs/adr/0011).
const pgDir = join(dataDir, 'master', 'postgres');
const masterUrl = `https://127.0.0.1:${ports.master}`;
const gatewayUrl = `https://127.0.0.1:${ports.gateway}`;
// The dashboard's pages are the only ones allowed to change things at the master, open its
// websockets and read footage from the gateway: its origin, as the browser sees it.
const dashboardOrigins = [
  ...new Set([`https://${host}:${ports.dashboard}`, `https://127.0.0.1:${ports.dashboard}`]),
].join(',');

interface Service {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}
const services: Service[] = [];
let stopping = false;

/**
 * Starts a service. One that exits with `restartCode` (an agent told to restart) is started
 * again; any other exit stops the cluster.
 */
function startService(
  name: string,
  args: string[],
  extraEnv: Record<string, string>,
  cwd = root,
  restartCode?: number,
): Service {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group: Ctrl-C reaches only this script, which stops the services in order
    // (agent first, master and its database last) instead of all at once.
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (l) => console.log(formatLine(name, l)));
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const svc = { name, child, exited };
  void exited.then((code) => {
    if (!stopping && restartCode !== undefined && code === restartCode) {
      console.log(`[cluster]  ${name} exited to be restarted; starting it again`);
      services.splice(services.indexOf(svc), 1);
      startService(name, args, extraEnv, cwd, restartCode);
      return;
    }
    if (!stopping) {
      console.error(`[cluster]  ${name} exited unexpectedly (code ${code}); stopping the cluster`);
      void stopAll(1);
    }
  });
  services.push(svc);
  return svc;
}

/** GET over HTTPS, verified against the cluster's CA (made after this process started). */
function healthy(url: string, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(url, { ca, timeout: 5000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function waitHealthy(
  name: string,
  url: string,
  svc: Service,
  ca: Buffer,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (svc.child.exitCode !== null) throw new Error(`${name} exited during start`);
    if (await healthy(url, ca)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} not healthy at ${url} after ${timeoutMs / 1000} s`);
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('[cluster]  stopping: agent, dashboard, gateway, master');
  for (const svc of [...services].reverse()) {
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) continue;
    svc.child.kill('SIGTERM');
    const killer = setTimeout(() => svc.child.kill('SIGKILL'), 15_000);
    await svc.exited;
    clearTimeout(killer);
  }
  console.log('[cluster]  stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGHUP', () => void stopAll(0));
// Should this script die another way, its detached services must not outlive it.
process.on('exit', () => {
  for (const svc of services)
    if (svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGTERM');
});

const tsx = ['--import', 'tsx'];
try {
  await mkdir(join(dataDir, 'agent'), { recursive: true });
  // TLS on every hop: the cluster's own CA and a certificate per service, under data/tls.
  const tls = await ensureLocalTls(dataDir, host);
  const ca = await readFile(tls.caFile);
  // Services trust the cluster's CA for the connections they make to each other.
  const trust = { NODE_EXTRA_CA_CERTS: tls.caFile };

  // master: embedded PostgreSQL under data/master/postgres, embedded MQTT broker, API
  const master = startService('master', [...tsx, 'master/src/main.ts'], {
    MASTER_DATA_DIR: join(dataDir, 'master'),
    MASTER_HTTP_PORT: String(ports.master),
    MASTER_TLS_CERT: tls.master.certFile,
    MASTER_TLS_KEY: tls.master.keyFile,
    MQTT_PORT: String(ports.mqtt),
    MQTT_TLS_PORT: String(ports.mqtts),
    EMBEDDED_PG_PORT: String(ports.postgres),
    GATEWAY_PUBLIC_URL: `https://${host}:${ports.gateway}`,
    ...trust,
    DASHBOARD_PUBLIC_URL: dashboardOrigins,
    // The dashboard server forwards sign-ins: believe its X-Forwarded-For (rate limit, audit).
    MASTER_TRUST_PROXY: '127.0.0.1,::1',
    // Admins enrol nodes from the dashboard's settings (one local box; set off to keep the CLI only).
    MASTER_ENROL_API: env.MASTER_ENROL_API ?? 'on',
  });
  await waitHealthy('master', `${masterUrl}/healthz`, master, ca);

  // storage gateway: buffer under data/gateway, "NAS" directory data/nas, same database
  const gateway = startService('gateway', [...tsx, 'storage-gateway/src/main.ts'], {
    // Its own role; the password is kept 0600 by the master's embedded server.
    DATABASE_URL: await embeddedDatabaseUrl(pgDir, ports.postgres, 'gateway'),
    GATEWAY_PORT: String(ports.gateway),
    GATEWAY_TLS_CERT: tls.gateway.certFile,
    GATEWAY_TLS_KEY: tls.gateway.keyFile,
    ...trust,
    GATEWAY_DATA_DIR: join(dataDir, 'gateway'),
    GATEWAY_NAS_DIR: join(dataDir, 'nas'),
    DASHBOARD_PUBLIC_URL: dashboardOrigins,
  });
  await waitHealthy('gateway', `${gatewayUrl}/healthz`, gateway, ca);

  // dashboard: the production build made by setup, behind its server (the real client address)
  const dashboard = startService(
    'dashboard',
    ['server.mjs', '-p', String(ports.dashboard)],
    {
      MASTER_URL: masterUrl,
      MASTER_PUBLIC_URL: `https://${host}:${ports.master}`,
      DASHBOARD_TLS_CERT: tls.dashboard.certFile,
      DASHBOARD_TLS_KEY: tls.dashboard.keyFile,
      ...trust,
      NEXT_TELEMETRY_DISABLED: '1',
    },
    join(root, 'dashboard'),
  );
  await waitHealthy('dashboard', `https://127.0.0.1:${ports.dashboard}/login`, dashboard, ca);

  // agent: one node with a simulated camera; its config is written once and then kept
  const agentConfig = join(dataDir, 'agent', 'agent.yaml');
  if (!existsSync(agentConfig)) {
    await writeFile(
      agentConfig,
      [
        '# Local agent written by `npm start`; edit freely, it is kept across runs.',
        'nodeId: edge-local-1',
        'mqtt:',
        `  url: mqtts://127.0.0.1:${ports.mqtts}`,
        'gateway:',
        `  url: ${gatewayUrl}`,
        'spool:',
        `  dir: ${join(dataDir, 'agent', 'spool')}`,
        `stateDir: ${join(dataDir, 'agent', 'state')}`,
        'heartbeatIntervalS: 5',
        'segmentSeconds: 2',
        `live: { jsmpeg: { port: ${ports.jsmpeg} } }`,
        '# cameras: []   # none configured: a simulated camera records a test pattern',
        '',
      ].join('\n'),
    );
  }
  // TLS to the master and the gateway, pinned to the cluster's CA; live view over wss://.
  if (
    await ensureAgentTls(agentConfig, {
      mqttsUrl: `mqtts://127.0.0.1:${ports.mqtts}`,
      gatewayUrl,
      caFile: tls.caFile,
      certFile: tls.agent.certFile,
      keyFile: tls.agent.keyFile,
    })
  )
    console.log('[cluster]  agent config: TLS to the master and the gateway, pinned to data/tls/ca.crt');
  // The broker requires node credentials: enrol the agent (or keep its still-valid password).
  const credentials = await ensureAgentCredentials(
    agentConfig,
    await embeddedDatabaseUrl(pgDir, ports.postgres, 'master'),
  );
  console.log(
    credentials === 'kept'
      ? '[cluster]  agent credentials in data/agent/agent.yaml still valid'
      : '[cluster]  agent enrolled; its new MQTT password and gateway upload token are in data/agent/agent.yaml',
  );
  // No NODE_EXTRA_CA_CERTS: the agent trusts only the CA its config names (tls.ca).
  // An agent told to restart (cmd/restart) exits with RESTART_EXIT_CODE and is started again.
  startService(
    'agent',
    [...tsx, 'node-agent/src/main.ts', '--config', agentConfig],
    {},
    root,
    RESTART_EXIT_CODE,
  );

  console.log('');
  console.log(`[cluster]  dashboard: https://${host}:${ports.dashboard}/`);
  console.log(
    `[cluster]  its certificate is signed by this cluster's own CA: trust ${tls.caFile} in your browser (or accept the warning once)`,
  );
  console.log(
    '[cluster]  sign in as "admin" with the password the master printed at its first start; a new one:',
  );
  console.log('[cluster]    node --import tsx master/bin/user.ts set-password admin');
  console.log(
    `[cluster]  master API: ${masterUrl}/api   gateway: ${gatewayUrl}   MQTT over TLS: ${ports.mqtts} (clear text on loopback: ${ports.mqtt})`,
  );
  console.log(`[cluster]  data: ${dataDir}   (Ctrl-C stops everything)`);
  console.log('');
} catch (err) {
  console.error(`[cluster]  start failed: ${(err as Error).message}`);
  await stopAll(1);
}
