/**
 * The whole site from Ansible, over SSH, onto three test hosts (network namespaces with their
 * own addresses, systemd, sshd, /etc and install prefixes; test/support/test-hosts.ts):
 * `site.yml` installs the master and the storage gateway on `central` (against a real
 * PostgreSQL, whose roles the master's play gives the inventory's passwords and migrates as
 * the owner, each service then logging in as its own role) and the agent on `h1` and `h2`,
 * which come online at that master and record into that gateway, every connection over TLS
 * with certificates of the site's CA (here the test run's own CA, which this process
 * trusts); a second run changes nothing; `upgrade.yml`
 * moves the agents to a new release one batch at a time; an upgrade whose first batch fails
 * leaves the next batch alone.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import type { NodeView } from '@cctv/protocol';
import { parse as parseYaml } from 'yaml';
import { parsePlaylist } from '../../node-agent/src/spool/playlist.ts';
import { buildRelease } from '../../scripts/release.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { onCleanup, repoRoot, startTestDatabase, waitFor } from '../support/index.ts';
import { rootOnlySkip } from '../support/root-only.ts';
import { startRtspServer } from '../support/rtsp-server.ts';
import { type ApiSession, signIn, TEST_ADMIN_PASSWORD } from '../support/session.ts';
import {
  BRIDGE_ADDRESS,
  startTestHosts,
  type TestHosts,
  testHostsUnsupported,
} from '../support/test-hosts.ts';
import { testTls } from '../support/tls.ts';

const run = promisify(execFile);
const ANSIBLE_DIR = join(repoRoot, 'deploy', 'ansible');
const V1 = '0.1.0-rollout.1';
const V2 = '0.1.0-rollout.2';
const NODES = { h1: 'rollout-h1', h2: 'rollout-h2' } as const;

const unsupported = rootOnlySkip(await testHostsUnsupported());

let dir: string;
let hosts: TestHosts;
let admin: ApiSession;
let masterUrl: string;
let centralDir: string;
let inventory: string;
let databaseUrl: string;

/** ansible-playbook with the project's ansible.cfg; resolves with its output, rejects on failure. */
function playbook(name: string, extra: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ansible-playbook', ['-i', inventory, name, ...extra], {
      cwd: ANSIBLE_DIR,
      env: {
        ...process.env,
        ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
        ANSIBLE_FORCE_COLOR: '0',
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_HOST_KEY_CHECKING: 'False',
        PYTHONUNBUFFERED: '1',
        ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-local'),
        // SSH connections are shared within this test only (hosts of an earlier run had the same addresses).
        ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'ssh-cp'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    // Also written as it comes, to follow a slow run: <test dir>/ansible.log
    const log = createWriteStream(join(dir, 'ansible.log'), { flags: 'a' });
    log.write(`\n$ ansible-playbook ${name} ${extra.join(' ')}\n`);
    const t0 = Date.now();
    for (const stream of [child.stdout, child.stderr])
      stream.on('data', (d) => {
        out += String(d);
        log.write(
          String(d).replace(
            /^(TASK|RUNNING HANDLER) /gm,
            (m) => `[${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`,
          ),
        );
      });
    child.on('close', () => log.end());
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(Object.assign(new Error(`${name} exited ${code}\n${out}`), { out })),
    );
  });
}

/** PLAY RECAP counters per host. */
function recap(out: string): Record<string, Record<string, number>> {
  const hostsRecap: Record<string, Record<string, number>> = {};
  const section = out.slice(out.lastIndexOf('PLAY RECAP'));
  for (const m of section.matchAll(/^(\S+)\s+:\s+(.*)$/gm)) {
    const counters: Record<string, number> = {};
    for (const c of (m[2] ?? '').matchAll(/(\w+)=(\d+)/g)) counters[c[1] as string] = Number(c[2]);
    hostsRecap[m[1] as string] = counters;
  }
  return hostsRecap;
}

const node = async (id: string) => {
  const res = await admin.fetch(`/api/nodes/${id}`);
  return res.ok ? ((await res.json()) as NodeView) : null;
};

/** Forwards `host:port` (on the test bridge) to a loopback port: the database, for the hosts. */
async function forward(host: string, target: number): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  // The services on the hosts still hold connections: cut them, or close() waits for them.
  onCleanup(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

before(
  async () => {
    if (unsupported) return;
    const began = Date.now();
    // Under /var/lib, as an install would be: the units have a private /tmp and no /home.
    dir = await mkdtemp('/var/lib/cctv-rollout-test-');
    // The services' users walk through it to their state folders.
    await chmod(dir, 0o755);
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const db = await startTestDatabase();
    databaseUrl = db.superuser; // the play gives the roles the inventory's passwords

    // Releases (two of the agent), built while the hosts start; Node.js packed as nodejs.org
    // packs it.
    const releases = join(dir, 'releases');
    const built = (async () => {
      for (const version of [V1, V2]) await buildRelease('agent', { arch: 'x64', version, outDir: releases });
      for (const service of ['master', 'gateway'])
        await buildRelease(service, { arch: 'x64', version: V1, outDir: releases });
    })();
    const nodeVersion = process.versions.node;
    const nodeName = `node-v${nodeVersion}-linux-x64`;
    await mkdir(join(dir, 'nodejs', nodeName, 'bin'), { recursive: true });
    await run('cp', [process.execPath, join(dir, 'nodejs', nodeName, 'bin', 'node')]);
    const nodeArchive = join(dir, `${nodeName}.tar.gz`);
    await run('tar', ['-C', join(dir, 'nodejs'), '-czf', nodeArchive, nodeName]);

    hosts = await startTestHosts(['central', 'h1', 'h2'], join(dir, 'hosts'));
    onCleanup(() => hosts.stop());
    const [c, a, b] = hosts.hosts;
    assert.ok(c && a && b);
    const camera = await startRtspServer({
      codec: 'h264',
      width: 320,
      height: 180,
      fps: 10,
      host: BRIDGE_ADDRESS,
    });
    onCleanup(() => camera.stop());
    // The hosts reach the database on the bridge. The master's play sets the roles' passwords
    // from the inventory with the superuser's URL (as a DBA's), then migrates as the owner.
    const databasePort = await forward(BRIDGE_ADDRESS, db.port);
    const adminUrl = new URL(db.superuser);
    adminUrl.hostname = BRIDGE_ADDRESS;
    adminUrl.port = String(databasePort);
    const dbPassword = () => randomBytes(24).toString('base64url');
    masterUrl = `https://${c.address}:8080`;
    centralDir = join(dir, 'hosts', 'central');

    // h1 is enrolled by the role through the master's API; h2's credentials come from the
    // inventory, as from a vault.
    const h2 = await enrolTestNodeFully(db.url, NODES.h2);
    const hostVars = (name: 'h1' | 'h2', address: string) => {
      const base = join(dir, 'hosts', name);
      return {
        ansible_host: address,
        node_agent_node_id: NODES[name],
        node_agent_prefix: join(base, 'opt', 'cctv-agent'),
        node_agent_state_dir: join(base, 'var', 'lib', 'cctv-agent'),
        node_agent_log_dir: join(base, 'var', 'log', 'cctv-agent'),
        node_agent_service_name: `cctv-agent-${name}`,
        // Never the fixed default live port (8091), even in a host's own network namespace.
        node_agent_config_extra: { live: { jsmpeg: { port: 0 } } },
        node_agent_cameras: [
          {
            id: `${NODES[name]}-door`,
            name: `Door (${name})`,
            url: camera.url,
            transports: ['tcp'],
            detect: { enabled: false },
          },
        ],
        ...(name === 'h2'
          ? { node_agent_mqtt_password: h2.secret, node_agent_upload_token: h2.uploadToken }
          : {}),
      };
    };
    const centralVars = {
      ansible_host: c.address,
      master_prefix: join(centralDir, 'opt', 'cctv-master'),
      master_data_dir: join(centralDir, 'var', 'lib', 'cctv-master'),
      master_log_dir: join(centralDir, 'var', 'log', 'cctv-master'),
      storage_gateway_prefix: join(centralDir, 'opt', 'cctv-gateway'),
      storage_gateway_data_dir: join(centralDir, 'var', 'lib', 'cctv-gateway'),
      storage_gateway_log_dir: join(centralDir, 'var', 'log', 'cctv-gateway'),
      storage_gateway_nas_dir: join(centralDir, 'srv', 'nas'),
    };
    // What a Debian host has before any install: Ansible would make missing parents with the
    // mode and owner of the folder asked for.
    for (const h of hosts.hosts)
      for (const sub of ['opt', 'var/lib', 'var/log', 'srv'])
        await mkdir(join(dir, 'hosts', h.name, sub), { recursive: true, mode: 0o755 });
    await built;
    inventory = join(dir, 'inventory.yml');
    await writeFile(
      inventory,
      JSON.stringify({
        all: {
          vars: {
            ansible_user: 'root',
            ansible_ssh_private_key_file: hosts.keyFile,
            ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
            ansible_python_interpreter: '/usr/bin/python3',
            cctv_version: V1,
            cctv_master_host: c.address,
            cctv_gateway_host: c.address,
            cctv_master_api_password: TEST_ADMIN_PASSWORD,
            // The site's CA is the test run's: this process trusts it (NODE_EXTRA_CA_CERTS), so
            // it verifies the master's certificate as the agents and the controller do.
            cctv_tls_ca_cert: testTls().caFile,
            cctv_tls_ca_key: join(dirname(testTls().caFile), 'ca.key'),
            cctv_releases_dir: releases,
            node_agent_nodejs_version: nodeVersion,
            node_agent_nodejs_archive: nodeArchive,
            master_nodejs_version: nodeVersion,
            master_nodejs_archive: nodeArchive,
            storage_gateway_nodejs_version: nodeVersion,
            storage_gateway_nodejs_archive: nodeArchive,
            node_agent_wait_online_timeout_s: 60,
            cctv_db_host: BRIDGE_ADDRESS,
            cctv_db_port: databasePort,
            cctv_db_name: new URL(db.url).pathname.slice(1),
            cctv_db_admin_url: adminUrl.href,
            cctv_db_owner_password: dbPassword(),
            cctv_db_master_password: dbPassword(),
            cctv_db_gateway_password: dbPassword(),
          },
          children: {
            master: { hosts: { central: centralVars } },
            storage: { hosts: { central: centralVars } },
            camera_nodes: { hosts: { h1: hostVars('h1', a.address), h2: hostVars('h2', b.address) } },
          },
        },
      }),
    );
    console.log(`set up in ${Date.now() - began} ms`);
  },
  { timeout: 240_000 },
);

test('site.yml installs the gateway and the master on one host and the agent on two, which come online there', {
  skip: unsupported,
  timeout: 300_000,
}, async () => {
  const started = Date.now();
  const out = await playbook('site.yml');
  console.log(`site.yml, first run: ${Date.now() - started} ms`);
  const counts = recap(out);
  for (const h of ['central', 'h1', 'h2']) {
    assert.equal(counts[h]?.failed, 0, out);
    assert.ok((counts[h]?.changed ?? 0) > 0, out);
  }
  // The database got the inventory's passwords (the migrations were there already), before
  // the services started on their roles.
  assert.match(out, /migrate: set the password of cctv_owner, cctv_master, cctv_gateway/, out);
  assert.match(out, /migrate: schema up to date/, out);
  // The master the role installed answers, with the first admin from the inventory.
  admin = await signIn(masterUrl, 'admin', TEST_ADMIN_PASSWORD);
  const centralHost = hosts.hosts.find((h) => h.name === 'central');
  assert.ok(centralHost);
  for (const unit of ['cctv-master', 'cctv-gateway']) {
    const { stdout } = await centralHost.exec('systemctl', [
      'show',
      `${unit}.service`,
      '-p',
      'ActiveState,User,Restart',
    ]);
    assert.match(stdout, /ActiveState=active/, `${unit}: ${stdout}`);
    assert.match(stdout, new RegExp(`User=${unit}`), `${unit}: ${stdout}`);
  }
  // Their keys are the services' own, 0600.
  const { stdout: centralKeys } = await centralHost.exec('stat', [
    '-c',
    '%a %U %n',
    '/etc/cctv-master/tls/master.key',
    '/etc/cctv-gateway/tls/gateway.key',
  ]);
  assert.match(centralKeys, /^600 cctv-master \/etc\/cctv-master\/tls\/master\.key$/m);
  assert.match(centralKeys, /^600 cctv-gateway \/etc\/cctv-gateway\/tls\/gateway\.key$/m);
  // Each service logs in as its own role; its password is root's only (systemd reads it).
  const { stdout: envModes } = await centralHost.exec('stat', [
    '-c',
    '%a %U %n',
    '/etc/cctv-master/master.env',
    '/etc/cctv-gateway/gateway.env',
  ]);
  assert.match(envModes, /^600 root \/etc\/cctv-master\/master\.env$/m);
  assert.match(envModes, /^600 root \/etc\/cctv-gateway\/gateway\.env$/m);
  const envOf = async (file: string) => (await centralHost.exec('cat', [file])).stdout;
  assert.match(await envOf('/etc/cctv-master/master.env'), /^DATABASE_URL="postgresql:\/\/cctv_master:/m);
  assert.match(await envOf('/etc/cctv-gateway/gateway.env'), /^DATABASE_URL="postgresql:\/\/cctv_gateway:/m);
  // Plain HTTP on the master's port gives no page: it speaks TLS only.
  await assert.rejects(fetch(`http://${centralHost.address}:8080/`), 'plain http:// must get no answer');
  // Clear-text MQTT listens on the master's loopback only; the TLS listener on every address.
  const { stdout: listening } = await centralHost.exec('ss', ['-Hltn']);
  const mqttPlain = [...listening.matchAll(/\s(\S+):1883\s/g)].map((m) => m[1]);
  assert.deepEqual(mqttPlain, ['127.0.0.1'], listening);
  assert.match(listening, /\s(0\.0\.0\.0|\*|\[::\]):8883\s/, listening);
  // The MQTT TLS listener shows a certificate of the site's CA for the master's address.
  await new Promise<void>((resolve, reject) => {
    const socket = tlsConnect({ host: centralHost.address, port: 8883 }, () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
  for (const [name, id] of Object.entries(NODES)) {
    const view = await node(id);
    assert.equal(view?.state, 'online', `${id}: ${JSON.stringify(view)}`);
    assert.equal(view?.agentVersion, V1);
    const host = hosts.hosts.find((h) => h.name === name);
    assert.ok(host);
    // The host's own systemd runs the unit, with its restart policy and limits.
    const { stdout: props } = await host.exec('systemctl', [
      'show',
      `cctv-agent-${name}.service`,
      '-p',
      'ActiveState,UnitFileState,Restart,User,MemoryMax,CPUQuotaPerSecUSec,TasksMax,LimitNOFILE,ExecMainPID',
    ]);
    const p = Object.fromEntries(
      props
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    assert.equal(p.ActiveState, 'active');
    assert.equal(p.UnitFileState, 'enabled');
    assert.equal(p.Restart, 'always');
    assert.equal(p.User, 'cctv-agent');
    assert.equal(p.MemoryMax, String(1024 ** 3));
    assert.equal(p.CPUQuotaPerSecUSec, '3s');
    assert.equal(p.TasksMax, '1024');
    assert.equal(p.LimitNOFILE, '65536');
    // The agent runs as its own user, from the release under this host's prefix, with V8 sized
    // for a small host.
    const { stdout: ps } = await host.exec('ps', ['-o', 'user:20=,args=', '-p', p.ExecMainPID ?? '0']);
    assert.match(
      ps,
      new RegExp(
        `^cctv-agent .*hosts/${name}/opt/cctv-agent/node/current/bin/node --max-semi-space-size=1 --v8-pool-size=1 .*/current/dist/main.mjs`,
      ),
    );
    // Secrets are readable by root and the service group only.
    const { stdout: modes } = await host
      .exec('stat', ['-c', '%a %U %G %n', '/etc/cctv-agent/agent.yaml', '/etc/cctv-agent/credentials.json'])
      .catch(() => host.exec('stat', ['-c', '%a %U %G %n', '/etc/cctv-agent/agent.yaml']));
    assert.match(modes, /^640 root cctv-agent \/etc\/cctv-agent\/agent\.yaml$/m);
    if (name === 'h1') assert.match(modes, /^600 root root \/etc\/cctv-agent\/credentials\.json$/m);
    const { stdout: keyMode } = await host.exec('stat', ['-c', '%a %U', '/etc/cctv-agent/tls/agent.key']);
    assert.equal(keyMode.trim(), '600 cctv-agent');
    // The agent reaches the broker and the gateway over TLS, pinned to the site's CA.
    const config = parseYaml(await readFile(join(host.dir, 'etc', 'cctv-agent', 'agent.yaml'), 'utf8')) as {
      mqtt: { url: string };
      gateway: { url: string };
      tls: { ca: string; cert: string; key: string };
    };
    assert.equal(config.mqtt.url, `mqtts://${centralHost.address}:8883`);
    assert.equal(config.gateway.url, `https://${centralHost.address}:8090`);
    assert.deepEqual(config.tls, {
      ca: '/etc/cctv-agent/tls/ca.crt',
      cert: '/etc/cctv-agent/tls/agent.crt',
      key: '/etc/cctv-agent/tls/agent.key',
    });
    assert.equal(
      (await host.exec('cat', ['/etc/cctv-agent/tls/ca.crt'])).stdout.trim(),
      (await readFile(testTls().caFile, 'utf8')).trim(),
    );
    // Online at the master, through its TLS listener.
    const { stdout: sockets } = await host.exec('ss', ['-Htn', 'state', 'established']);
    assert.ok(sockets.includes(`${centralHost.address}:8883`), sockets);
    // From the camera host, the master's clear-text MQTT port cannot be reached at all.
    await assert.rejects(
      host.exec('timeout', ['5', 'bash', '-c', `exec 3<>/dev/tcp/${centralHost.address}/1883`]),
      `${name} must not reach ${centralHost.address}:1883`,
    );
    // Log rotation is installed, and logrotate accepts it.
    await host.exec('logrotate', ['-d', `/etc/logrotate.d/cctv-agent-${name}`]);
    const log = await readFile(join(dir, 'hosts', name, 'var', 'log', 'cctv-agent', 'agent.log'), 'utf8');
    assert.match(log, /"msg":"agent starting"/);
  }
  // The cameras from the inventory record.
  const checked = Date.now();
  await waitFor(
    'both inventory cameras online',
    async () => {
      const views = await Promise.all(Object.values(NODES).map(node));
      return views.every((v) => v?.cameras.some((c) => c.id.endsWith('-door') && c.online));
    },
    60_000,
    500,
  );
  console.log(`inventory cameras online ${Date.now() - checked} ms after the checks`);
  // Their recordings reach the NAS folder through the gateway the role installed.
  const online = Date.now();
  await waitFor(
    'segments of both cameras on the NAS',
    async () => {
      const { stdout } = await run('find', [join(centralDir, 'srv', 'nas'), '-name', '*.m4s']);
      return Object.values(NODES).every((id) => stdout.includes(`${id}-door`));
    },
    60_000,
    500,
  );
  console.log(`segments of both cameras on the NAS ${Date.now() - online} ms after that`);
});

test('a second run of site.yml changes nothing', {
  skip: unsupported,
  timeout: 300_000,
}, async () => {
  const started = Date.now();
  const out = await playbook('site.yml');
  console.log(`site.yml, second run: ${Date.now() - started} ms`);
  const counts = recap(out);
  for (const h of ['central', 'h1', 'h2']) {
    assert.equal(counts[h]?.failed, 0, out);
    assert.equal(counts[h]?.changed, 0, out);
  }
});

test('upgrade.yml moves the hosts to the new version one batch at a time', {
  skip: unsupported,
  timeout: 300_000,
}, async () => {
  // Watch the master while the upgrade runs: when each node first reports the new version.
  const seen: { at: number; id: string; state: string; version: string | null }[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const id of Object.values(NODES)) {
        const v = await node(id);
        const last = seen.findLast((s) => s.id === id);
        if (v && (!last || last.state !== v.state || last.version !== v.agentVersion))
          seen.push({ at: Date.now(), id, state: v.state, version: v.agentVersion });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = Date.now();
  const out = await playbook('upgrade.yml', [
    '-e',
    `cctv_version=${V2}`,
    '-e',
    'cctv_upgrade_batch=1',
  ]).finally(() => {
    watching = false;
  });
  await watcher;
  console.log(`upgrade.yml: ${Date.now() - started} ms`);
  console.log(seen.map((s) => `${s.at - started} ms ${s.id} ${s.state} ${s.version}`).join('\n'));
  assert.equal((out.match(/^PLAY \[Upgrade camera hosts in batches\]/gm) ?? []).length, 2, out);
  for (const id of Object.values(NODES)) {
    const v = await node(id);
    assert.equal(v?.state, 'online');
    assert.equal(v?.agentVersion, V2);
  }
  // The second batch (h2) was not touched before the first (h1) was online with V2.
  const h1Done = seen.find((s) => s.id === NODES.h1 && s.state === 'online' && s.version === V2);
  const h2Left = seen.find((s) => s.id === NODES.h2 && !(s.state === 'online' && s.version === V1));
  assert.ok(h1Done && h2Left, JSON.stringify(seen));
  assert.ok(h1Done.at <= h2Left.at, JSON.stringify(seen));
  const counts = recap(out);
  assert.ok((counts.h1?.changed ?? 0) > 0 && (counts.h2?.changed ?? 0) > 0, out);
  // Recording went on across the upgrade: each agent's new release took over the run its old
  // one left recording (recorder.handoffS), so the footage of each camera, as the gateway
  // indexed it, has no gap over one segment, and every segment recorded meanwhile is indexed
  // with the sha256 of its bytes.
  const ended = Date.now();
  const prisma = createPrismaClient(databaseUrl, 1);
  try {
    const indexed = (cameraId: string) =>
      prisma.segment.findMany({
        where: { cameraId, startAt: { gte: new Date(started - 10_000) } },
        orderBy: { startAt: 'asc' },
        select: { name: true, startAt: true, durationMs: true, sha256: true },
      });
    await waitFor(
      'footage after the upgrade indexed',
      async () => {
        for (const id of Object.values(NODES)) {
          const last = (await indexed(`${id}-door`)).at(-1);
          if (!last || last.startAt.getTime() + last.durationMs < ended + 2000) return false;
        }
        return true;
      },
      60_000,
      500,
    );
    for (const [name, id] of Object.entries(NODES)) {
      const cameraId = `${id}-door`;
      const rows = await indexed(cameraId);
      // Two runs overlap across a take-over: a moment has footage when any segment covers it.
      let widest = Number.NEGATIVE_INFINITY;
      let widestAt = '';
      let coveredTo: number | null = null;
      for (const row of rows) {
        const start = row.startAt.getTime();
        if (coveredTo !== null) {
          const gapMs = start - coveredTo;
          if (gapMs > widest) [widest, widestAt] = [gapMs, row.name];
          assert.ok(gapMs <= 2000, `${cameraId}: ${gapMs} ms without footage before ${row.name}`);
        }
        coveredTo = Math.max(coveredTo ?? start, start + row.durationMs);
      }
      // Every segment the agents listed over the upgrade, in every run's playlist in the spool.
      const spool = join(dir, 'hosts', name, 'var', 'lib', 'cctv-agent', 'spool', cameraId);
      const recorded: string[] = [];
      for (const file of (await readdir(spool)).filter((f) => f.endsWith('.m3u8'))) {
        for (const entry of parsePlaylist(await readFile(join(spool, file), 'utf8')).entries) {
          const at = entry.startAt?.getTime() ?? 0;
          if (at >= started && at + entry.durationMs <= ended) recorded.push(entry.uri);
        }
      }
      const byName = new Map(rows.map((r) => [r.name, r]));
      for (const segment of recorded) {
        const row = byName.get(segment);
        assert.ok(row, `${cameraId}: ${segment}, recorded during the upgrade, is not indexed`);
        const bytes = await readFile(join(spool, segment));
        assert.equal(row.sha256, createHash('sha256').update(bytes).digest('hex'), `${cameraId}: ${segment}`);
      }
      const log = await readFile(join(dir, 'hosts', name, 'var', 'log', 'cctv-agent', 'agent.log'), 'utf8');
      assert.match(log, /taking over the run the previous agent left recording/, `${name} took over no run`);
      console.log(
        `${cameraId}: ${recorded.length} segments recorded during the upgrade, all indexed with their ` +
          `sha256; widest gap in the indexed footage ${widest} ms, before ${widestAt} (negative: overlap)`,
      );
    }
  } finally {
    await prisma.$disconnect();
  }
  // The earlier release stays on the host for a way back.
  for (const name of ['h1', 'h2'])
    await stat(
      join(dir, 'hosts', name, 'opt', 'cctv-agent', 'releases', `cctv-agent-${V1}-linux-x64`, 'package.json'),
    );
});

test('an upgrade whose first batch fails stops there', {
  skip: unsupported,
  timeout: 300_000,
}, async () => {
  // No release 9.9.9 was built: the first batch fails to fetch it.
  const out = await playbook('upgrade.yml', ['-e', 'cctv_version=9.9.9', '-e', 'cctv_upgrade_batch=1']).then(
    (o) => assert.fail(`the upgrade should have failed:\n${o}`),
    (err: Error & { out: string }) => err.out,
  );
  const counts = recap(out);
  assert.equal(counts.h1?.failed, 1, out);
  assert.equal(counts.h2, undefined, `h2 must not be reached:\n${out}`);
  for (const id of Object.values(NODES)) {
    const v = await node(id);
    assert.equal(v?.state, 'online');
    assert.equal(v?.agentVersion, V2);
  }
});
