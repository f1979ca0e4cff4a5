/** Helpers shared by integration and end-to-end tests: real servers on free ports, temp dirs, polling. */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
// The modules themselves, not prisma's index: that one loads the generated client, which a
// fresh clone has only after setup, and the fast tier runs without it.
import { startEmbeddedPostgres } from '../../prisma/src/embedded-postgres.ts';
import { removeSystemClusters } from '../../prisma/src/postgres-placement.ts';
import { migrateDatabase } from '../../prisma/src/roles.ts';
import { freePort, GiveUp, spawnKept, waitFor } from './plain.ts';
import { serviceTlsEnv } from './tls.ts';

export { freePort, processAlive, repoRoot, waitFor } from './plain.ts';

/*
 * Cleanups run once, after every test of the file, last registered first. `after()` called
 * inside a hook would bind to that hook, so helpers register here instead; this module is
 * first imported at a file's top level, where `after` binds to the whole file.
 */
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error('test cleanup failed:', err);
    }
  }
});

/** Registers work to run after the test file, whatever its outcome. */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A temp dir removed after the test file, whatever the outcome. */
export async function tempDir(prefix = 'cctv-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(async () => {
    // A master started as root with its data below this 0700 folder keeps its cluster in the
    // system folder (ADR 0014): it goes with the folder.
    await removeSystemClusters(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export interface TestDatabase {
  /** The master's role (`cctv_master`): what a master, and test set-up a master could do, use. */
  url: string;
  /** The storage gateway's role (`cctv_gateway`). */
  gateway: string;
  /** The owner: only for set-up no service may do (writing segments or rows the master only reads). */
  owner: string;
  /** The server's bootstrap superuser: only for what a DBA does (creating the roles). */
  superuser: string;
  port: number;
}

/**
 * A real PostgreSQL on a free port with the project's migrations and grants applied, a URL
 * per role (docs/adr/0011-database-roles-and-secrets.md); stopped after the file.
 */
export async function startTestDatabase(): Promise<TestDatabase> {
  const dir = await tempDir('cctv-pg-');
  const port = await freePort();
  const pg = await startEmbeddedPostgres({ dataDir: dir, port });
  onCleanup(() => pg.stop());
  await migrateDatabase(pg.urls.owner);
  return {
    url: pg.urls.master,
    gateway: pg.urls.gateway,
    owner: pg.urls.owner,
    superuser: pg.superuserUrl,
    port,
  };
}

/** Waits for an HTTP endpoint to answer 2xx; fails at once, with the output, if the process dies. */
export async function waitHealthy(svc: ServiceProcess, url: string, timeoutMs = 60_000): Promise<void> {
  try {
    await waitFor(
      `${url} healthy`,
      async () => {
        if (svc.child.exitCode !== null || svc.child.signalCode !== null)
          throw new DeadServiceError(`process exited (${svc.child.exitCode ?? svc.child.signalCode})`);
        return (await fetch(url)).ok;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- output ---\n${svc.output().slice(-6000)}`);
  }
}

class DeadServiceError extends GiveUp {}

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a TypeScript entry point as its own Node process; killed after the test file. The
 * master, the gateway and the dashboard serve TLS with the run's certificate (`env` may say
 * otherwise).
 */
export function startService(
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
): ServiceProcess {
  const p = spawnKept(process.execPath, ['--import', 'tsx', entry, ...args], {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...serviceTlsEnv(),
    ...env,
  });
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => p.stop(signal);
  onCleanup(() => kill('SIGKILL'));
  return { child: p.child, output: p.output, kill };
}
