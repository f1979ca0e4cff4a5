/**
 * The deployment files pass their own tools: ansible-lint (production profile) and
 * ansible-playbook's syntax check on deploy/ansible, docker-compose's config check on
 * deploy/compose (Debian's packages, as an operator would run them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { repoRoot, tempDir } from '../support/index.ts';

const run = promisify(execFile);
const ansibleDir = join(repoRoot, 'deploy', 'ansible');
const composeDir = join(repoRoot, 'deploy', 'compose');

/** Runs a command; resolves with its exit code and output whether it fails or not. */
async function outcome(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd,
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'), ...env },
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('ansible-lint passes deploy/ansible at the production profile', { timeout: 120_000 }, async () => {
  const r = await outcome('ansible-lint', ['--profile', 'production', '--nocolor'], ansibleDir);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
});

test('site.yml and upgrade.yml pass the syntax check with the example inventory', async () => {
  for (const playbook of ['site.yml', 'upgrade.yml']) {
    const r = await outcome(
      'ansible-playbook',
      ['--syntax-check', '-i', 'inventory/example/hosts.yml', playbook],
      ansibleDir,
    );
    assert.equal(r.code, 0, `${playbook}: ${r.out}`);
  }
  // The example inventory names the three groups the playbooks use.
  const r = await outcome('ansible-inventory', ['-i', 'inventory/example/hosts.yml', '--graph'], ansibleDir);
  assert.equal(r.code, 0, r.out);
  for (const group of ['@camera_nodes', '@master', '@storage']) assert.ok(r.out.includes(group), r.out);
});

test('docker-compose accepts the compose files with the example settings', async () => {
  const base = ['-f', 'compose.yaml', '--env-file', '.env.example'];
  const plain = await outcome('docker-compose', [...base, 'config', '-q'], composeDir);
  assert.equal(plain.code, 0, plain.out);
  const withBroker = await outcome(
    'docker-compose',
    [
      '-f',
      'compose.yaml',
      '-f',
      'compose.mosquitto.yaml',
      '--env-file',
      '.env.example',
      '--profile',
      'mosquitto',
      'config',
    ],
    composeDir,
    { MQTT_PASSWORD: 'broker-password-for-the-check' },
  );
  assert.equal(withBroker.code, 0, withBroker.out);
  for (const service of ['postgres:', 'master:', 'storage-gateway:', 'dashboard:', 'mosquitto:'])
    assert.ok(withBroker.out.includes(`  ${service}`), `${service} missing:\n${withBroker.out}`);
  assert.match(withBroker.out, /healthcheck:/);
});

/** `docker-compose config` with these settings as the env file and `unset` blanked; must fail naming `unset`. */
async function assertRefused(settings: string, unset: string) {
  const envFile = join(await tempDir('cctv-compose-'), 'settings.env');
  await writeFile(envFile, settings);
  const r = await outcome(
    'docker-compose',
    ['-f', 'compose.yaml', '--env-file', envFile, 'config', '-q'],
    composeDir,
    {
      [unset]: '',
    },
  );
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, new RegExp(unset));
}

test('docker-compose refuses to run without the secrets it needs', async () => {
  // An empty env file: POSTGRES_PASSWORD and the rest are unset.
  await assertRefused('', 'POSTGRES_PASSWORD');
});

test('docker-compose refuses to run without the certificates, naming CCTV_TLS_DIR', async () => {
  // The example settings but the certificates' directory.
  const example = await readFile(join(composeDir, '.env.example'), 'utf8');
  await assertRefused(example.replace(/^CCTV_TLS_DIR=.*$/m, ''), 'CCTV_TLS_DIR');
});

interface ComposeService {
  environment: Record<string, string>;
  ports?: { published: number | string; target: number }[];
  volumes?: ({ type: string; source: string; target: string; read_only?: boolean } | string)[];
}

test('the services serve TLS with their own certificate, trust the CA, and publish no clear-text MQTT', async () => {
  const r = await outcome(
    'docker-compose',
    ['-f', 'compose.yaml', '--env-file', '.env.example', 'config'],
    composeDir,
    { CCTV_TLS_DIR: '/srv/cctv-tls' },
  );
  assert.equal(r.code, 0, r.out);
  const services = (parseYaml(r.out) as { services: Record<string, ComposeService> }).services;
  const files = { master: 'master', 'storage-gateway': 'gateway', dashboard: 'dashboard' } as const;
  const prefix = { master: 'MASTER', 'storage-gateway': 'GATEWAY', dashboard: 'DASHBOARD' } as const;
  for (const [service, base] of Object.entries(files) as [keyof typeof files, string][]) {
    const svc = services[service];
    assert.ok(svc, service);
    const binds = (svc.volumes ?? []).filter((v) => typeof v === 'object' && v.type === 'bind');
    // Its own key and certificate and the CA, read-only; never the CA's key.
    for (const file of ['ca.crt', `${base}.crt`, `${base}.key`]) {
      const mount = binds.find((v) => typeof v === 'object' && v.source === `/srv/cctv-tls/${file}`);
      assert.ok(
        mount && typeof mount === 'object',
        `${service} lacks ${file}: ${JSON.stringify(svc.volumes)}`,
      );
      assert.equal(mount.target, `/etc/cctv/tls/${file}`);
      assert.equal(mount.read_only, true);
    }
    assert.ok(!JSON.stringify(svc.volumes).includes('ca.key'), `${service} gets the CA key`);
    const env = svc.environment;
    assert.equal(env[`${prefix[service]}_TLS_CERT`], `/etc/cctv/tls/${base}.crt`);
    assert.equal(env[`${prefix[service]}_TLS_KEY`], `/etc/cctv/tls/${base}.key`);
    assert.equal(env.NODE_EXTRA_CA_CERTS, '/etc/cctv/tls/ca.crt');
    assert.equal(env[`${prefix[service]}_TLS`], undefined, `${service} turns TLS off`);
  }
  const master = services.master as ComposeService;
  assert.deepEqual(
    (master.ports ?? []).map((p) => p.target).sort(),
    [8080, 8883],
    'the master publishes HTTPS and MQTT over TLS only',
  );
  assert.equal(master.environment.MQTT_TLS_PORT, '8883');
  assert.equal(master.environment.MQTT_HOST, undefined, 'clear-text MQTT stays on loopback');
  assert.equal(master.environment.GATEWAY_URL, 'https://storage-gateway:8090');
  assert.equal(master.environment.MASTER_COOKIE_SECURE, 'on');
  assert.equal(services.dashboard?.environment.MASTER_URL, 'https://master:8080');
  for (const service of ['master', 'storage-gateway', 'dashboard'])
    assert.match(
      JSON.stringify(services[service]),
      /fetch\('https:\/\/127\.0\.0\.1:/,
      `${service} health check`,
    );
});
