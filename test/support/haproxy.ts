/**
 * Debian's HAProxy in front of several masters or gateways for tests: one TCP frontend per
 * service on a free loopback port, TLS passed through to the servers (they hold the run's
 * certificate), each server checked with `GET /healthz` over TLS every 500 ms and taken out
 * after two failures. `balance source` sends every connection of one client to one server while
 * it is up (a browser's page, its sockets and the test's API calls land together), and to another
 * when it is down. Stopped after the file.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, onCleanup, tempDir, waitFor } from './index.ts';

export const HAPROXY = '/usr/sbin/haproxy';

export interface Backend {
  name: string;
  /** `host:port` of each server. */
  servers: string[];
}

export interface Haproxy {
  /** The frontend port of each backend, by name. */
  ports: Record<string, number>;
  output(): string;
  stop(): Promise<void>;
}

export async function startHaproxy(backends: Backend[]): Promise<Haproxy> {
  const dir = await tempDir('cctv-haproxy-');
  const ports: Record<string, number> = {};
  const sections: string[] = [];
  for (const b of backends) {
    const port = await freePort();
    ports[b.name] = port;
    sections.push(
      `frontend ${b.name}_in`,
      `  bind 127.0.0.1:${port}`,
      `  default_backend ${b.name}`,
      `backend ${b.name}`,
      '  balance source',
      '  hash-type consistent',
      '  option httpchk GET /healthz',
      '  http-check expect status 200',
      '  default-server check check-ssl verify none inter 500 fall 2 rise 2',
      ...b.servers.map((s, i) => `  server ${b.name}${i + 1} ${s}`),
    );
  }
  const conf = join(dir, 'haproxy.cfg');
  await writeFile(
    conf,
    [
      'global',
      '  log stderr format short local0 info',
      'defaults',
      '  mode tcp',
      '  log global',
      '  option redispatch',
      '  retries 3',
      '  timeout connect 2s',
      // Sockets to the dashboard and long uploads stay open.
      '  timeout client 1h',
      '  timeout server 1h',
      ...sections,
      '',
    ].join('\n'),
  );
  const child = spawn(HAPROXY, ['-db', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  onCleanup(stop);
  for (const port of Object.values(ports))
    await waitFor(
      'haproxy listening',
      () =>
        new Promise<boolean>((resolve) => {
          if (child.exitCode !== null) throw new Error(`haproxy exited: ${log}`);
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
  return { ports, output: () => log, stop };
}
