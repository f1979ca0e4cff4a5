/**
 * The one-line agent install (docs/adr/0016, deploy/install/agent.sh), without Ansible: a master
 * on this machine serves the test bridge; an admin asks it for an install line, and the exact
 * line runs as root on a fresh test host (test/support/test-hosts.ts: its own systemd, /etc and
 * network; an install prefix of its own on the shared file system). The agent comes online at
 * the master, under the hardened unit; the same line again is refused and changes nothing, and
 * so are an expired and an altered token. Also without root: the script's unit and log rotation
 * are the Ansible role's templates rendered with the role's defaults, line for line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import { type InstallTokenAnswer, masterPaths, type NodeView } from '@cctv/protocol';
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';
import { buildRelease } from '../../scripts/release.ts';
import {
  freePort,
  onCleanup,
  repoRoot,
  type ServiceProcess,
  startService,
  startTestDatabase,
  type TestDatabase,
  waitFor,
} from '../support/index.ts';
import { rootOnlySkip } from '../support/root-only.ts';
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';
import {
  BRIDGE_ADDRESS,
  startTestHosts,
  type TestHost,
  type TestHosts,
  testHostsUnsupported,
} from '../support/test-hosts.ts';
import { testTls } from '../support/tls.ts';

const run = promisify(execFile);
const VERSION = '0.1.0-install.1';
const NODE_ID = 'oneline-h1';
const SCRIPT = join(repoRoot, 'deploy', 'install', 'agent.sh');
const ROLE = join(repoRoot, 'deploy', 'ansible', 'roles', 'node_agent');

/**
 * The role's templates rendered as Ansible renders them (Jinja2, trim_blocks), with the role's
 * defaults and vars and `over`; each one's text without its `ansible_managed` head line.
 */
const RENDER = `
import json, sys, yaml, jinja2
role, over, names = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
env.filters['comment'] = lambda s: '# ' + s
v = yaml.safe_load(open(role + '/defaults/main.yml'))
v.update(over)
v['ansible_managed'] = 'Ansible managed'
for k, t in yaml.safe_load(open(role + '/vars/main.yml')).items():
    v[k] = env.from_string(t).render(v)
print(json.dumps([env.from_string(open(role + '/templates/' + n).read()).render(v) for n in names]))
`;

/** Text without its first line (the head comment naming who wrote the file). */
const body = (text: string) => text.slice(text.indexOf('\n') + 1);

test('the install script writes the Ansible role’s systemd unit and log rotation', async () => {
  const cases: { over: Record<string, unknown>; args: string[] }[] = [
    // The defaults of both.
    { over: { node_agent_node_id: 'cam-1' }, args: ['--node-id', 'cam-1'] },
    // Every path and name given.
    {
      over: {
        node_agent_node_id: 'cam-2',
        node_agent_prefix: '/srv/h2/opt/cctv-agent',
        node_agent_service_name: 'cctv-agent-h2',
        node_agent_config_dir: '/etc/agent-h2',
        node_agent_state_dir: '/srv/h2/var/lib/cctv-agent',
        node_agent_log_dir: '/srv/h2/var/log/cctv-agent',
      },
      args: [
        '--node-id',
        'cam-2',
        '--prefix',
        '/srv/h2/opt/cctv-agent',
        '--service-name',
        'cctv-agent-h2',
        '--config-dir',
        '/etc/agent-h2',
        '--state-dir',
        '/srv/h2/var/lib/cctv-agent',
        '--log-dir',
        '/srv/h2/var/log/cctv-agent',
      ],
    },
  ];
  for (const { over, args } of cases) {
    const { stdout } = await run('python3', [
      '-c',
      RENDER,
      ROLE,
      JSON.stringify(over),
      'agent.service.j2',
      'logrotate.j2',
    ]);
    const [unitJ2, logrotateJ2] = JSON.parse(stdout) as [string, string];
    const unit = (await run('sh', [SCRIPT, '--print-unit', ...args])).stdout;
    const logrotate = (await run('sh', [SCRIPT, '--print-logrotate', ...args])).stdout;
    assert.equal(body(unit), body(unitJ2), 'the unit differs from agent.service.j2');
    assert.equal(body(logrotate), body(logrotateJ2), 'log rotation differs from logrotate.j2');
    // The unit keeps its hardening and limits.
    for (const line of [
      'NoNewPrivileges=true',
      'ProtectSystem=full',
      'PrivateTmp=true',
      'MemoryMax=1G',
      'Restart=always',
    ])
      assert.ok(unit.split('\n').includes(line), `${line} in\n${unit}`);
  }
});

const unsupported = rootOnlySkip(await testHostsUnsupported());

describe('one-line install on a fresh test host', { skip: unsupported }, () => {
  let dir: string;
  let db: TestDatabase;
  let hosts: TestHosts;
  let host: TestHost;
  let masterUrl: string;
  let admin: ApiSession;
  let hostDir: string;
  let line: string;
  let master: ServiceProcess;

  /** The options that keep this host's install under its own prefix (the file system is shared). */
  const prefixed = (l: string) => {
    const own = l.replace(
      / --ca "\$d\/ca\.pem"\)$/,
      ` --ca "$d/ca.pem" --prefix ${hostDir}/opt/cctv-agent --state-dir ${hostDir}/var/lib/cctv-agent --log-dir ${hostDir}/var/log/cctv-agent --wait 90)`,
    );
    // Never onto this machine's own /opt: the line must end as the master writes it.
    assert.notEqual(own, l, `the line does not end as expected: ${l}`);
    return own;
  };
  /** Runs an install line in the host as root; its exit status, output and error output. */
  const install = async (l: string) => {
    const started = Date.now();
    const result = await host.exec('bash', ['-c', prefixed(l)]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => ({
        code: err.code,
        stdout: err.stdout,
        stderr: err.stderr,
      }),
    );
    console.log(
      `install line: exit ${result.code} in ${Date.now() - started} ms\n${result.stdout}${result.stderr}`,
    );
    return result;
  };
  const askLine = async (ttlMinutes?: number): Promise<InstallTokenAnswer> => {
    const res = await admin.postJson(
      masterPaths.nodeInstallToken({ id: NODE_ID }),
      ttlMinutes === undefined ? {} : { ttlMinutes },
    );
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as InstallTokenAnswer;
  };
  const nodeView = async () => {
    const res = await admin.fetch(masterPaths.node({ id: NODE_ID }));
    return res.ok ? ((await res.json()) as NodeView) : null;
  };
  /** What an install changes on the host: its prefix, its /etc/cctv-agent and unit files. */
  const footprint = async () =>
    (
      await host.exec('bash', [
        '-c',
        `find ${hostDir}/opt /etc/cctv-agent /etc/systemd/system /etc/logrotate.d -printf '%p %T@\\n' 2>/dev/null | sort; getent passwd cctv-agent; true`,
      ])
    ).stdout;

  before(
    async () => {
      const began = Date.now();
      // Under /var/lib, as an install would be: the unit has a private /tmp and no /home.
      dir = await mkdtemp('/var/lib/cctv-install-test-');
      await chmod(dir, 0o755);
      onCleanup(() => rm(dir, { recursive: true, force: true }));
      const releases = join(dir, 'releases');
      const built = buildRelease('agent', { arch: 'x64', version: VERSION, outDir: releases });
      db = await startTestDatabase();
      hosts = await startTestHosts(['i1'], join(dir, 'hosts'));
      onCleanup(() => hosts.stop());
      host = hosts.hosts[0] as TestHost;
      hostDir = join(dir, 'hosts', host.name);
      // What a Debian host has before any install.
      for (const sub of ['opt', 'var/lib', 'var/log'])
        await mkdir(join(hostDir, sub), { recursive: true, mode: 0o755 });

      // The master on the bridge, with a certificate of the run's CA for the bridge's address.
      const ca = await ensureLocalCa(join(testTls().caFile, '..'));
      const cert = await ensureCertificate(ca, join(dir, 'tls'), 'master', {
        names: [BRIDGE_ADDRESS, '127.0.0.1', 'localhost'],
        days: 2,
        renewBeforeDays: 1,
      });
      const [httpPort, mqttPort, mqttTlsPort, gatewayPort] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      masterUrl = `https://${BRIDGE_ADDRESS}:${httpPort}`;
      await built;
      master = startService('master/src/main.ts', {
        DATABASE_URL: db.url,
        MASTER_HTTP_HOST: BRIDGE_ADDRESS,
        MASTER_HTTP_PORT: String(httpPort),
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: String(mqttPort),
        MQTT_TLS_HOST: BRIDGE_ADDRESS,
        MQTT_TLS_PORT: String(mqttTlsPort),
        MASTER_TLS_CERT: cert.certFile,
        MASTER_TLS_KEY: cert.keyFile,
        MQTT_TLS_CERT: cert.certFile,
        MQTT_TLS_KEY: cert.keyFile,
        MASTER_CA_CERT: testTls().caFile,
        MASTER_RELEASE_DIR: releases,
        // No gateway in this test: the agent keeps its segments until one answers.
        MASTER_NODE_GATEWAY_URL: `https://${BRIDGE_ADDRESS}:${gatewayPort}`,
        MASTER_DATA_DIR: join(dir, 'master'),
        MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
      });
      admin = await waitFor('master HTTP API', () => signInAdmin(masterUrl), 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
      });
      console.log(`set up in ${Date.now() - began} ms`);
    },
    { timeout: 240_000 },
  );

  test('the line from the API installs the agent, which comes online under the hardened unit', {
    timeout: 180_000,
  }, async () => {
    const answer = await askLine(10);
    line = answer.line;
    const caPem = await readFile(testTls().caFile);
    assert.equal(answer.caSha256, createHash('sha256').update(caPem).digest('hex'));
    assert.ok(line.includes(answer.caSha256), line);
    assert.ok(!line.includes('\n'), 'one line');
    assert.ok(Date.parse(answer.expiresAt) - Date.now() > 9 * 60_000, answer.expiresAt);

    const result = await install(line);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, new RegExp(`node ${NODE_ID} is online at the master with agent ${VERSION}`));

    // Online at the master, as its API says.
    const view = await nodeView();
    assert.equal(view?.state, 'online', JSON.stringify(view));
    assert.equal(view?.agentVersion, VERSION);

    // The host's systemd runs the unit, with its restart policy, limits and hardening.
    const { stdout: props } = await host.exec('systemctl', [
      'show',
      'cctv-agent.service',
      '-p',
      'ActiveState,UnitFileState,Restart,User,MemoryMax,MemoryHigh,CPUQuotaPerSecUSec,TasksMax,LimitNOFILE,NoNewPrivileges,ProtectSystem,ProtectHome,PrivateTmp,ExecMainPID',
    ]);
    const p = Object.fromEntries(
      props
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    assert.deepEqual(
      { ...p, ExecMainPID: undefined },
      {
        ActiveState: 'active',
        UnitFileState: 'enabled',
        Restart: 'always',
        User: 'cctv-agent',
        MemoryMax: String(1024 ** 3),
        MemoryHigh: String(768 * 1024 ** 2),
        CPUQuotaPerSecUSec: '3s',
        TasksMax: '1024',
        LimitNOFILE: '65536',
        NoNewPrivileges: 'yes',
        ProtectSystem: 'full',
        ProtectHome: 'yes',
        PrivateTmp: 'yes',
        ExecMainPID: undefined,
      },
    );
    // From the release under this host's prefix, as the service's own user, V8 sized for a small host.
    const { stdout: ps } = await host.exec('ps', ['-o', 'user:20=,args=', '-p', p.ExecMainPID ?? '0']);
    assert.match(
      ps,
      /^cctv-agent .*hosts\/i1\/opt\/cctv-agent\/node\/current\/bin\/node --max-semi-space-size=1 --v8-pool-size=1 .*\/current\/dist\/main.mjs/,
    );
    await stat(
      join(hostDir, 'opt', 'cctv-agent', 'releases', `cctv-agent-${VERSION}-linux-x64`, 'package.json'),
    );
    // Secrets are root's and the service group's only; the CA is the pinned one.
    const { stdout: modes } = await host.exec('stat', [
      '-c',
      '%a %U %G %n',
      '/etc/cctv-agent/agent.yaml',
      '/etc/cctv-agent/credentials.json',
    ]);
    assert.match(modes, /^640 root cctv-agent \/etc\/cctv-agent\/agent\.yaml$/m);
    assert.match(modes, /^600 root root \/etc\/cctv-agent\/credentials\.json$/m);
    assert.equal((await host.exec('cat', ['/etc/cctv-agent/tls/ca.crt'])).stdout, caPem.toString());
    const config = (await host.exec('cat', ['/etc/cctv-agent/agent.yaml'])).stdout;
    assert.match(config, new RegExp(`^  url: "mqtts://${BRIDGE_ADDRESS.replace(/\./g, '\\.')}:\\d+"$`, 'm'));
    assert.match(config, /^ {2}ca: "\/etc\/cctv-agent\/tls\/ca\.crt"$/m);
    assert.doesNotMatch(config, /^cameras:/m, 'no cameras key: the master manages them');
    // The enrolment is in the audit log, and the token is nowhere in it.
    const token = /CCTV_INSTALL_TOKEN='([^']+)'/.exec(line)?.[1] ?? '';
    assert.ok(token.length >= 43, line);
    const prisma = createPrismaClient(db.owner, 1);
    try {
      const rows = await prisma.auditEntry.findMany({
        where: { nodeId: NODE_ID, action: { in: ['node_enrol_token', 'node_install'] } },
      });
      assert.deepEqual(rows.map((r) => r.action).sort(), ['node_enrol_token', 'node_install']);
      assert.ok(!JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(token));
      const tokens = await prisma.enrolmentToken.findMany({ where: { nodeId: NODE_ID } });
      assert.equal(tokens.length, 1);
      assert.equal(tokens[0]?.tokenHash, createHash('sha256').update(token).digest('hex'));
      assert.equal(tokens[0]?.usedFrom, host.address);
      // Nor is it in the master's log.
      assert.match(master.output(), /node enrolled by its install line/);
      assert.ok(!master.output().includes(token), 'the token is in the master log');
    } finally {
      await prisma.$disconnect();
    }
  });

  test('the same line again is refused and changes nothing', { timeout: 60_000 }, async () => {
    const before = await footprint();
    const { stdout: pidBefore } = await host.exec('systemctl', [
      'show',
      '-p',
      'ExecMainPID',
      'cctv-agent.service',
    ]);
    const result = await install(line);
    assert.notEqual(result.code, 0, result.stdout);
    assert.match(
      result.stderr,
      /TOKEN_USED\): this install token was already used .* Nothing was installed or changed\./,
    );
    assert.equal(await footprint(), before);
    const { stdout: pidAfter } = await host.exec('systemctl', [
      'show',
      '-p',
      'ExecMainPID',
      'cctv-agent.service',
    ]);
    assert.equal(pidAfter, pidBefore, 'the agent was not restarted');
    assert.equal((await nodeView())?.state, 'online');
  });

  test('an expired or altered token is refused before anything is installed', {
    timeout: 60_000,
  }, async () => {
    const before = await footprint();
    // Expired: made as valid, then its time passed (the owner moves it into the past).
    const expired = await askLine(5);
    const token = /CCTV_INSTALL_TOKEN='([^']+)'/.exec(expired.line)?.[1] ?? '';
    const prisma = createPrismaClient(db.owner, 1);
    try {
      await prisma.enrolmentToken.update({
        where: { tokenHash: createHash('sha256').update(token).digest('hex') },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
    } finally {
      await prisma.$disconnect();
    }
    const late = await install(expired.line);
    assert.notEqual(late.code, 0, late.stdout);
    assert.match(
      late.stderr,
      /TOKEN_EXPIRED\): this install token expired at .* Nothing was installed or changed\./,
    );

    // Altered: one character of a fresh token changed.
    const fresh = await askLine();
    const good = /CCTV_INSTALL_TOKEN='([^']+)'/.exec(fresh.line)?.[1] ?? '';
    const altered = `${good.slice(0, -1)}${good.endsWith('A') ? 'B' : 'A'}`;
    const forged = await install(fresh.line.replace(good, altered));
    assert.notEqual(forged.code, 0, forged.stdout);
    assert.match(
      forged.stderr,
      /TOKEN_UNKNOWN\): the master does not know this install token .* Nothing was installed or changed\./,
    );

    // A CA that is not the pinned one: stopped before the script is even fetched.
    const otherCa = fresh.line.replace(fresh.caSha256, '0'.repeat(64));
    const pinned = await install(otherCa);
    assert.notEqual(pinned.code, 0, pinned.stdout);
    assert.match(
      pinned.stderr,
      /the master's CA certificate is not the one of this line; nothing was installed/,
    );
    assert.equal(await footprint(), before);
  });
});
