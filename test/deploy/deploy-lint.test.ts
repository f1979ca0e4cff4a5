/**
 * The deployment files pass their own tools: ansible-lint (production profile) and
 * ansible-playbook's syntax check on deploy/ansible, docker-compose's config check on
 * deploy/compose (Debian's packages, as an operator would run them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
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

test('docker-compose refuses to run without the secrets it needs', async () => {
  // An empty env file: POSTGRES_PASSWORD and the rest are unset.
  const empty = join(await tempDir('cctv-compose-'), 'empty.env');
  await writeFile(empty, '');
  const r = await outcome(
    'docker-compose',
    ['-f', 'compose.yaml', '--env-file', empty, 'config', '-q'],
    composeDir,
    {
      POSTGRES_PASSWORD: '',
    },
  );
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /POSTGRES_PASSWORD/);
});
