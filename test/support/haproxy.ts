/**
 * Debian's HAProxy in front of several masters or gateways for tests: one TCP frontend per
 * service on a free loopback port, TLS passed through to the servers (they hold the run's
 * certificate), each server checked with `GET /healthz` over TLS every second and taken out
 * after three failures; a connection a server refuses goes to another at once. `balance source` sends every connection of one client to one server while
 * it is up (a browser's page, its sockets and the test's API calls land together), and to another
 * when it is down. Stopped after the file.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, onCleanup, tempDir } from './index.ts';
import { waitListening } from './plain.ts';

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
      // Lenient checks on a busy test box (a TLS handshake may take a while); a dead server is
      // found by its refused connections at once anyway (redispatch above).
      '  timeout check 3s',
      // A server that refuses a client's connection is marked down at once (`observe layer4`):
      // with `balance source` a redispatch would otherwise pick it again until the checks fail.
      '  default-server check check-ssl verify none inter 1s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down on-marked-down shutdown-sessions',
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
      // A connection refused by a server not yet marked down goes to another at once (no
      // one-second turn-around before a retry at the same server).
      '  option redispatch 1',
      '  retries 2',
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
  for (const port of Object.values(ports)) await waitListening('haproxy', port, child, () => log);
  return { ports, output: () => log, stop };
}
