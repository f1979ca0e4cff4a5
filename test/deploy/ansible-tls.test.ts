/**
 * The cctv_tls role on the controller and a host (both this machine, connection local): a CA
 * made once, a certificate per host for its names, kept while good (a second run changes
 * nothing), renewed before it expires, issued again by a CA given as PEM text (a vault) without
 * that key ever reaching the output.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ensureLocalCa } from '@cctv/tls';
import { repoRoot, tempDir } from '../support/index.ts';

const run = promisify(execFile);
const ansibleDir = join(repoRoot, 'deploy', 'ansible');
const dir = await tempDir('cctv-ansible-tls-');
const me = userInfo().username;

await writeFile(
  join(dir, 'hosts.json'),
  JSON.stringify({
    all: {
      vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' },
      hosts: { 'cam-a': { ansible_host: '10.213.9.1' }, 'cam-b': { ansible_host: 'cam-b.example' } },
    },
  }),
);
await writeFile(
  join(dir, 'play.yml'),
  `- name: TLS files for a service
  hosts: all
  gather_facts: false
  tasks:
    - name: Install the CA and the host's certificate
      ansible.builtin.include_role:
        name: cctv_tls
      vars:
        cctv_tls_service: agent
        cctv_tls_dest: "${dir}/dest/{{ inventory_hostname }}"
        cctv_tls_owner: ${me}
        cctv_tls_group: ${userInfo().gid === 0 ? 'root' : me}
    - name: Say whether the CA changed
      ansible.builtin.debug:
        msg: "ca-changed={{ cctv_tls_ca_changed }}"
`,
);

/** ansible-playbook -v; resolves with the output and the PLAY RECAP's changed= per host. */
async function playbook(...extra: string[]) {
  const { stdout, stderr } = await run(
    'ansible-playbook',
    ['-v', '-i', join(dir, 'hosts.json'), join(dir, 'play.yml'), ...extra],
    {
      cwd: dir,
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_ROLES_PATH: join(ansibleDir, 'roles'),
        ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
      },
      maxBuffer: 16 << 20,
    },
  ).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`${err.message}\n${err.stdout ?? ''}`);
  });
  const out = stdout + stderr;
  const changed = Object.fromEntries(
    [...out.slice(out.lastIndexOf('PLAY RECAP')).matchAll(/^(\S+)\s+:.*\bchanged=(\d+)/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
  return { out, changed };
}

const certOf = async (host: string) =>
  new X509Certificate(await readFile(join(dir, 'dest', host, 'agent.crt')));
const mode = async (path: string) => (await stat(path)).mode & 0o777;

test('cctv_tls: a CA made once, host certificates kept, renewed, and issued again by a vault CA', {
  timeout: 300_000,
}, async () => {
  const first = await playbook();
  assert.ok((first.changed['cam-a'] ?? 0) > 0 && (first.changed['cam-b'] ?? 0) > 0, first.out);
  const ca = new X509Certificate(await readFile(join(dir, 'tls', 'ca.crt')));
  assert.equal(ca.ca, true);
  assert.equal(await mode(join(dir, 'tls')), 0o700);
  assert.equal(await mode(join(dir, 'tls', 'ca.key')), 0o600);
  const a = await certOf('cam-a');
  assert.ok(a.checkIssued(ca) && a.verify(ca.publicKey), 'issued by the CA');
  assert.equal(a.subjectAltName, 'DNS:cam-a, IP Address:10.213.9.1, DNS:localhost, IP Address:127.0.0.1');
  assert.equal((await certOf('cam-b')).checkHost('cam-b.example'), 'cam-b.example');
  assert.equal(await mode(join(dir, 'dest', 'cam-a', 'agent.key')), 0o600);
  assert.equal(await readFile(join(dir, 'dest', 'cam-a', 'ca.crt'), 'utf8'), ca.toString());

  const again = await playbook();
  assert.deepEqual(again.changed, { 'cam-a': 0, 'cam-b': 0 }, again.out);

  // Within the renewal window: a new certificate from the same CA, which the services reload.
  const renewed = await playbook('-e', 'cctv_tls_days=400', '-e', 'cctv_tls_renew_before_days=366');
  assert.notEqual((await certOf('cam-a')).serialNumber, a.serialNumber);
  assert.match(renewed.out, /ca-changed=False/);

  // A CA of the site's own, as PEM text from a vault: every certificate is issued again by it.
  const vaultCa = await ensureLocalCa(join(dir, 'vault-ca'), 'Site CA');
  const keyPem = await readFile(vaultCa.keyFile, 'utf8');
  await writeFile(
    join(dir, 'vault.json'),
    JSON.stringify({ cctv_tls_ca_cert: vaultCa.pem, cctv_tls_ca_key: keyPem }),
  );
  const switched = await playbook('-e', `@${join(dir, 'vault.json')}`);
  assert.match(switched.out, /ca-changed=True/);
  const site = new X509Certificate(vaultCa.pem);
  const b = await certOf('cam-b');
  assert.ok(b.checkIssued(site) && b.verify(site.publicKey), 'issued by the vault CA');
  const keyBody = keyPem.split('\n')[1] ?? '';
  assert.ok(keyBody.length > 20);
  assert.ok(!switched.out.includes(keyBody), 'the CA key never appears in the output');
  const still = await playbook('-e', `@${join(dir, 'vault.json')}`);
  assert.deepEqual(still.changed, { 'cam-a': 0, 'cam-b': 0 }, still.out);
});
