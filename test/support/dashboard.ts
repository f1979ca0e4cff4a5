/** The built dashboard (its `server.mjs`, as in production) for browser tests, and the build it needs. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, onCleanup, repoRoot, waitFor } from './index.ts';
import { serviceTlsEnv } from './tls.ts';

const dashboardDir = join(repoRoot, 'dashboard');
const nextBin = join(repoRoot, 'node_modules/next/dist/bin/next');

/** The built dashboard's server, in its own process group so its children die with it. */
export function startDashboard(
  port: number,
  env: Record<string, string>,
): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, ['server.mjs', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: dashboardDir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...serviceTlsEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-50_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  return { child, output: () => out };
}

/** The tests drive the production build; build it once if there is none yet. */
export function ensureDashboardBuild(): void {
  if (existsSync(join(dashboardDir, process.env.NEXT_DIST_DIR || '.next', 'BUILD_ID'))) return;
  const r = spawnSync(process.execPath, [nextBin, 'build'], {
    cwd: dashboardDir,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`next build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/**
 * The built dashboard on `port` (a free one by default), talking to the master at `masterUrl`
 * (the browser's websocket too), once it answers; the start fails with its output otherwise.
 * The master and the gateway must allow its origin (`DASHBOARD_PUBLIC_URL`, see
 * `dashboardOrigin`): pick the port first, start them, then the dashboard.
 */
export async function openDashboard(
  masterUrl: string,
  port?: number,
): Promise<{ url: string; child: ChildProcess; output(): string }> {
  port ??= await freePort();
  const dashboard = startDashboard(port, { MASTER_URL: masterUrl, MASTER_PUBLIC_URL: masterUrl });
  const url = `https://127.0.0.1:${port}`;
  // Without a session the dashboard answers with its sign-in page (after a redirect).
  await waitFor('dashboard HTTP', async () => (await fetch(url)).ok, 60_000).catch((err: Error) => {
    throw new Error(`${err.message}\n--- dashboard output ---\n${dashboard.output()}`);
  });
  return { url, ...dashboard };
}

/** The origin of a dashboard on `port` as the tests open it. */
export const dashboardOrigin = (port: number) => `https://127.0.0.1:${port}`;
