/**
 * Helpers that need no test runner: free ports, polling, a real aedes broker. Tests reach them
 * through `index.ts` (which adds cleanup after the test file); benchmarks import them directly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export const repoRoot = new URL('../../', import.meta.url).pathname;

// Ports this process has handed out: the kernel may offer a closed one again at once, and two
// servers of one test given the same port would collide.
const handedOut = new Set<number>();

/** A port free on 127.0.0.1 now, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Thrown by a `waitFor` probe to give up at once instead of retrying. */
export class GiveUp extends Error {}

/** Polls `probe` until it returns something truthy; its errors are retried, except GiveUp. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastErr = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Resolves once something accepts TCP connections on loopback `port`; throws with `log()` when
 * `child` exits first (a server that failed to start).
 */
export function waitListening(name: string, port: number, child: ChildProcess, log: () => string) {
  return waitFor(
    `${name} listening`,
    () =>
      new Promise<boolean>((resolve) => {
        if (child.exitCode !== null) throw new Error(`${name} exited: ${log()}`);
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.end();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    10_000,
    100,
  );
}

export interface AedesServer {
  url: string;
  port: number;
  broker: Aedes;
  /** Drops every client connection, closes the listener and the broker; idempotent. */
  close(): Promise<void>;
}

/** A real aedes MQTT broker on 127.0.0.1, on `port` or a free one. */
export async function startAedes(port?: number): Promise<AedesServer> {
  const broker = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    })();
    return closed;
  };
  return { url: `mqtt://127.0.0.1:${listenPort}`, port: listenPort, broker, close };
}

export interface KeptProcess {
  child: ChildProcess;
  /** The last ~100–200 KB the process printed (stdout and stderr). */
  output(): string;
  exited(): boolean;
  /** `signal` (SIGTERM), then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** A process from the repository root whose output is kept for error messages. */
export function spawnKept(command: string, args: string[], env: NodeJS.ProcessEnv): KeptProcess {
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) =>
    new Promise<void>((resolve) => {
      if (exited()) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      force.unref();
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill(signal);
    });
  return { child, output: () => out, exited, stop };
}
