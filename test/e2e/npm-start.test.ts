/**
 * `npm start` in a fresh data folder, as the README has a user run it: every service answers
 * HTTPS verified against the cluster's own `data/tls/ca.crt` (and nothing in clear text), the
 * broker's TLS listener verifies against the same CA, the sign-in cookie is Secure, HSTS is sent,
 * and the agent it starts talks to the master and the gateway over TLS only — seen from the
 * connections the agent process holds.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { ensureLocalCa } from '@cctv/tls';
import { parse as parseYaml } from 'yaml';
import { ensureDashboardBuild } from '../support/dashboard.ts';
import { freePort, repoRoot, tempDir, waitFor } from '../support/index.ts';
import { TEST_ADMIN_PASSWORD } from '../support/session.ts';

const run = promisify(execFile);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTPS request that trusts `ca` only. */
function httpsAsk(url: string, ca: Buffer, opts: { method?: string; body?: unknown } = {}): Promise<Answer> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca,
        method: opts.method ?? 'GET',
        agent: false,
        headers: body
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** What a clear-text HTTP request to a TLS port gets: an error, or an answer that is no page. */
function plainAsk(port: number): Promise<{ error?: string; status?: number; body?: string }> {
  return new Promise((resolve) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/** A TLS handshake with the broker's TLS listener, trusting `ca` only. */
function handshake(port: number, ca: Buffer): Promise<{ authorized: boolean; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      resolve({ authorized: socket.authorized });
      socket.destroy();
    });
    socket.on('error', (err) => resolve({ authorized: false, error: err.message }));
  });
}

describe('npm start', { timeout: 600_000 }, () => {
  const ports = {} as Record<
    'master' | 'mqtt' | 'mqtts' | 'postgres' | 'gateway' | 'dashboard' | 'jsmpeg',
    number
  >;
  let dataDir: string;
  let ca: Buffer;
  let output = '';
  let stopCluster: () => Promise<void> = async () => {};

  before(async () => {
    ensureDashboardBuild();
    dataDir = await tempDir('cctv-npm-start-');
    for (const name of ['master', 'mqtt', 'mqtts', 'postgres', 'gateway', 'dashboard', 'jsmpeg'] as const)
      ports[name] = await freePort();
    const env = { ...process.env };
    // The cluster must stand on its own CA, not on the one this test run trusts.
    delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: repoRoot,
      env: {
        ...env,
        CCTV_DATA_DIR: dataDir,
        MASTER_HTTP_PORT: String(ports.master),
        MQTT_PORT: String(ports.mqtt),
        MQTT_TLS_PORT: String(ports.mqtts),
        EMBEDDED_PG_PORT: String(ports.postgres),
        GATEWAY_PORT: String(ports.gateway),
        DASHBOARD_PORT: String(ports.dashboard),
        AGENT_JSMPEG_PORT: String(ports.jsmpeg),
        MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      output = (output + b.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    stopCluster = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    };
    await waitFor(
      'the cluster started',
      () => {
        if (child.exitCode !== null)
          throw new Error(`npm start exited (${child.exitCode}):\n${output.slice(-6000)}`);
        return output.includes('[cluster]  dashboard: https://');
      },
      300_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output ---\n${output.slice(-6000)}`);
    });
    ca = await readFile(join(dataDir, 'tls', 'ca.crt'));
  });
  after(() => stopCluster());

  it('prints an https:// URL and where the CA to trust is', () => {
    assert.match(output, new RegExp(`\\[cluster\\]  dashboard: https://[^ ]+:${ports.dashboard}/`));
    assert.ok(output.includes(join(dataDir, 'tls', 'ca.crt')), 'names the CA file');
  });

  it('serves master, gateway and dashboard over HTTPS verified against data/tls/ca.crt, with HSTS', async () => {
    for (const [name, url] of [
      ['master', `https://127.0.0.1:${ports.master}/healthz`],
      ['gateway', `https://127.0.0.1:${ports.gateway}/healthz`],
      ['dashboard', `https://127.0.0.1:${ports.dashboard}/login`],
      ['dashboard by name', `https://localhost:${ports.dashboard}/login`],
    ] as const) {
      const res = await httpsAsk(url, ca);
      assert.equal(res.status, 200, `${name}: ${res.body.slice(0, 200)}`);
      assert.match(String(res.headers['strict-transport-security']), /max-age=\d{7,}/, `${name}: HSTS`);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', name);
    }
    const page = await httpsAsk(`https://127.0.0.1:${ports.dashboard}/login`, ca);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    // Another CA's client refuses them: the chain really is verified.
    const other = await ensureLocalCa(await tempDir('cctv-other-ca-'));
    await assert.rejects(
      httpsAsk(`https://127.0.0.1:${ports.master}/healthz`, Buffer.from(other.pem)),
      /self.signed|unable to verify|issuer/i,
    );
  });

  it('gives no page in clear text on any of those ports', async () => {
    for (const port of [ports.master, ports.gateway, ports.dashboard]) {
      const res = await plainAsk(port);
      assert.ok(
        res.error !== undefined || ((res.status ?? 0) >= 400 && !/<html/i.test(res.body ?? '')),
        `port ${port}: ${JSON.stringify(res).slice(0, 300)}`,
      );
    }
  });

  it('signs in with a Secure cookie', async () => {
    const res = await httpsAsk(`https://127.0.0.1:${ports.master}/api/auth/login`, ca, {
      method: 'POST',
      body: { username: 'admin', password: TEST_ADMIN_PASSWORD },
    });
    assert.equal(res.status, 200, res.body);
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('cctv_session='));
    assert.ok(cookie, 'a session cookie');
    assert.match(cookie, /;\s*Secure/i);
    assert.match(cookie, /;\s*HttpOnly/i);
  });

  it('runs MQTT over TLS verified against the same CA; clear text only on loopback', async () => {
    const ok = await handshake(ports.mqtts, ca);
    assert.deepEqual(ok, { authorized: true });
    const other = await ensureLocalCa(await tempDir('cctv-other-ca-'));
    const refused = await handshake(ports.mqtts, Buffer.from(other.pem));
    assert.equal(refused.authorized, false);
    assert.match(refused.error ?? '', /self.signed|unable to verify|issuer/i);
    const { stdout } = await run('ss', ['-Htln', `sport = :${ports.mqtt}`]);
    const local = stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim().split(/\s+/)[3]);
    assert.deepEqual(local, [`127.0.0.1:${ports.mqtt}`], 'the clear-text listener is loopback only');
  });

  it('has the agent talk to the master and the gateway over TLS only, pinned to the CA', async () => {
    const config = parseYaml(await readFile(join(dataDir, 'agent', 'agent.yaml'), 'utf8')) as {
      mqtt: { url: string };
      gateway: { url: string };
      tls: { ca: string; cert: string; key: string };
    };
    assert.equal(config.mqtt.url, `mqtts://127.0.0.1:${ports.mqtts}`);
    assert.equal(config.gateway.url, `https://127.0.0.1:${ports.gateway}`);
    assert.equal(config.tls.ca, join(dataDir, 'tls', 'ca.crt'));
    const { stdout: pids } = await run('pgrep', [
      '-f',
      `node-agent/src/main.ts --config ${join(dataDir, 'agent')}`,
    ]);
    const pid = pids.trim().split('\n')[0];
    assert.ok(pid, 'the agent runs');
    // The agent's own connections, by remote port: the broker's TLS listener and the gateway
    // (an upload every segment), never the clear-text broker port.
    const seen = new Set<number>();
    await waitFor(
      'the agent connected to the broker over TLS and uploaded to the gateway',
      async () => {
        const { stdout } = await run('ss', ['-Htnp', 'state', 'established']);
        for (const line of stdout.split('\n').filter((l) => l.includes(`pid=${pid},`))) {
          const peer = line.trim().split(/\s+/)[3] ?? '';
          seen.add(Number(peer.slice(peer.lastIndexOf(':') + 1)));
        }
        return seen.has(ports.mqtts) && seen.has(ports.gateway);
      },
      120_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; ports seen: ${[...seen].join(', ')}\n${output.slice(-4000)}`);
    });
    assert.ok(!seen.has(ports.mqtt), 'never the clear-text broker port');
    assert.ok(!seen.has(ports.master), 'the agent does not call the API');
  });
});
