/**
 * Test hosts on this machine, for deployment tests: each one a network namespace with its own
 * address on a test bridge, its own PID, mount and UTS namespaces, its own copy of /etc, a
 * private /run, and systemd running as its PID 1 with sshd as a service. Ansible reaches them
 * over SSH as it would real camera hosts; what it installs there is started by that host's
 * systemd. The file system outside /etc and /run is shared, so each host installs under a
 * prefix of its own.
 *
 * Linux only, as root (network namespaces, cgroup v2 mounted at /sys/fs/cgroup/unified or
 * /sys/fs/cgroup, systemd and sshd from Debian). Only addresses in 10.213.0.0/24, on the
 * bridge `cctvt-br0` this module makes, are used.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './plain.ts';

const run = promisify(execFile);

const BRIDGE = 'cctvt-br0';
const PREFIX = 'cctvt-';
/** The address of this machine (the controller, the master) on the test bridge. */
export const BRIDGE_ADDRESS = '10.213.0.1';
const CGROUP_ROOTS = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'];

export interface TestHost {
  name: string;
  address: string;
  /** Folder of this host's /etc copy, unit files and keys. */
  dir: string;
  /** PID (in this namespace) of the host's systemd. */
  pid: number;
  /** Runs a command inside the host (all its namespaces), as root. */
  exec(cmd: string, args?: string[]): Promise<{ stdout: string; stderr: string }>;
}

export interface TestHosts {
  hosts: TestHost[];
  /** Private key that logs in as root on every host. */
  keyFile: string;
  stop(): Promise<void>;
}

/** Why test hosts cannot be made here, or null when they can. */
export async function testHostsUnsupported(): Promise<string | null> {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  for (const bin of ['/usr/lib/systemd/systemd', '/usr/sbin/sshd', '/usr/bin/unshare', '/usr/bin/nsenter'])
    if (!existsSync(bin)) return `${bin} is missing`;
  if (!cgroupRoot()) return 'no cgroup v2 hierarchy';
  return null;
}

function cgroupRoot(): string | null {
  for (const dir of CGROUP_ROOTS)
    if (existsSync(join(dir, 'cgroup.procs')) && existsSync(join(dir, 'cgroup.max.depth'))) return dir;
  return null;
}

/** Removes what an earlier, interrupted run left: namespaces, the bridge, systemd trees. */
export async function cleanStaleTestHosts(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (ns.startsWith(PREFIX)) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
  const links = await run('ip', ['-o', 'link', 'show']).catch(() => ({ stdout: '' }));
  for (const m of links.stdout.matchAll(/^\d+: ([^:@]+)/gm))
    if (m[1]?.startsWith(PREFIX)) await run('ip', ['link', 'del', m[1]]).catch(() => undefined);
  const root = cgroupRoot();
  if (!root) return;
  for (const name of await readdir(root)) if (name.startsWith(PREFIX)) await killCgroup(join(root, name));
}

/** Kills every process in a cgroup tree and removes it. */
async function killCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await writeFile(join(dir, 'cgroup.kill'), '1').catch(() => undefined);
  await waitFor(
    `${dir} empty`,
    async () => (await readFile(join(dir, 'cgroup.events'), 'utf8')).includes('populated 0'),
    10_000,
    50,
  ).catch(() => undefined);
  const removeTree = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => []))
      if (e.isDirectory()) await removeTree(join(d, e.name));
    await rmdir(d).catch(() => undefined);
  };
  await removeTree(dir);
}

const BASE_TARGETS = [
  'sysinit',
  'basic',
  'multi-user',
  'shutdown',
  'sockets',
  'timers',
  'paths',
  'slices',
  'network',
  'network-online',
  'network-pre',
  'nss-lookup',
  'local-fs',
  'remote-fs',
  'time-sync',
];

/**
 * The host's boot: runs inside its namespaces, makes its mounts private, then becomes
 * systemd. Units come from the host's own /etc/systemd/system and a minimal set of targets
 * (nothing of this machine's own boot: no udev, no tmpfiles, no journald).
 */
const BOOT = `#!/bin/sh
set -e
dir="$1"
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
mount --bind "$dir/etc" /etc
umount -R /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname "$2"
export container=cctv-test-host
export SYSTEMD_UNIT_PATH="/etc/systemd/system:$dir/base-units"
exec /usr/lib/systemd/systemd --system --log-target=console --log-level=notice --show-status=false
`;

/** Makes `names.length` hosts (names: letters, digits, dashes; at most 10 characters). */
export async function startTestHosts(names: string[], workDir: string): Promise<TestHosts> {
  const why = await testHostsUnsupported();
  if (why) throw new Error(`test hosts cannot be made here: ${why}`);
  await cleanStaleTestHosts();
  const cgRoot = cgroupRoot() as string;
  await mkdir(workDir, { recursive: true });
  const keyFile = join(workDir, 'id_ed25519');
  await rm(keyFile, { force: true });
  await rm(`${keyFile}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cctv-test-controller', '-f', keyFile]);
  const publicKey = await readFile(`${keyFile}.pub`, 'utf8');
  const bootScript = join(workDir, 'boot.sh');
  await writeFile(bootScript, BOOT, { mode: 0o755 });

  await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `${BRIDGE_ADDRESS}/24`, 'dev', BRIDGE]);
  await run('ip', ['link', 'set', BRIDGE, 'up']);

  const hosts: TestHost[] = [];
  const children: ReturnType<typeof spawn>[] = [];
  const stop = async () => {
    for (const h of hosts) await killCgroup(join(cgRoot, `${PREFIX}${h.name}`));
    for (const c of children) c.kill('SIGKILL');
    await cleanStaleTestHosts();
  };
  try {
    for (const [i, name] of names.entries()) {
      if (!/^[a-z0-9-]{1,10}$/.test(name)) throw new Error(`bad host name ${name}`);
      const ns = `${PREFIX}${name}`;
      const address = `10.213.0.${11 + i}`;
      const dir = join(workDir, name);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      // Its own /etc: users, unit files, log rotation and SSH keys stay on this host.
      await run('cp', ['-a', '/etc', join(dir, 'etc')]);
      await rm(join(dir, 'etc', 'systemd', 'system'), { recursive: true, force: true });
      await mkdir(join(dir, 'etc', 'systemd', 'system'), { recursive: true });
      await writeFile(join(dir, 'etc', 'hostname'), `${name}\n`);
      // As Debian's installer does: the host's own name resolves without DNS (the test network
      // has no DNS server, and a lookup would wait for its timeout).
      await writeFile(
        join(dir, 'etc', 'hosts'),
        `127.0.0.1 localhost\n127.0.1.1 ${name}\n${address} ${name}\n::1 localhost ip6-localhost ip6-loopback\n`,
      );
      // root's home is the host's own too (not this machine's shell profile, SSH or Ansible files).
      const home = join(dir, 'root');
      await mkdir(home, { mode: 0o700 });
      const passwd = await readFile(join(dir, 'etc', 'passwd'), 'utf8');
      await writeFile(
        join(dir, 'etc', 'passwd'),
        passwd.replace(/^root:([^:]*):0:0:([^:]*):[^:]*:/m, `root:$1:0:0:$2:${home}:`),
      );
      await writeFile(join(dir, 'etc', 'machine-id'), `${randomBytes(16).toString('hex')}\n`);
      await sshd(dir, address, publicKey);

      await run('ip', ['netns', 'add', ns]);
      await run('ip', [
        'link',
        'add',
        `${ns}0`.slice(0, 15),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await run('ip', ['link', 'set', `${ns}0`.slice(0, 15), 'master', BRIDGE, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', BRIDGE_ADDRESS]);

      // Its systemd in a cgroup of its own, seen by it as the root.
      const cg = join(cgRoot, ns);
      await mkdir(cg, { recursive: true });
      const child = spawn(
        'sh',
        [
          '-c',
          'echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" unshare --cgroup --pid --fork --mount --uts --mount-proc "$3" "$4" "$5"',
          'boot',
          cg,
          ns,
          bootScript,
          dir,
          name,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      children.push(child);
      let output = '';
      child.stdout?.on('data', (d) => (output += String(d)));
      child.stderr?.on('data', (d) => (output += String(d)));
      const pid = await waitFor(
        `${name}: systemd running`,
        async () => {
          const procs = (
            await readFile(join(cg, 'init.scope', 'cgroup.procs'), 'utf8').catch(() => '')
          ).trim();
          return procs ? Number(procs.split('\n')[0]) : null;
        },
        15_000,
        50,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${output}`);
      });
      const host: TestHost = {
        name,
        address,
        dir,
        pid,
        exec: (cmd, args = []) =>
          run('nsenter', ['-t', String(pid), '-a', cmd, ...args], { maxBuffer: 16 << 20 }),
      };
      hosts.push(host);
    }
    for (const h of hosts)
      await waitFor(
        `${h.name}: sshd answering`,
        async () =>
          (
            await run('ssh-keyscan', ['-T', '1', '-t', 'ed25519', h.address]).catch(() => ({ stdout: '' }))
          ).stdout.includes('ssh-ed25519'),
        20_000,
        200,
      ).catch(async (err: Error) => {
        const status = await h
          .exec('systemctl', ['status', '--no-pager', 'cctv-test-sshd.service'])
          .catch((e: Error) => e);
        throw new Error(`${err.message}\n${JSON.stringify(status)}`);
      });
  } catch (err) {
    await stop();
    throw err;
  }
  return { hosts, keyFile, stop };
}

/** sshd for the host: its own host key, root by key only, started by the host's systemd. */
async function sshd(dir: string, address: string, publicKey: string): Promise<void> {
  const ssh = join(dir, 'etc', 'ssh');
  await mkdir(ssh, { recursive: true });
  for (const f of await readdir(ssh)) if (f.startsWith('ssh_host_')) await rm(join(ssh, f));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'ssh_host_ed25519_key')]);
  const authorized = join(ssh, 'authorized_keys_root');
  await writeFile(authorized, publicKey, { mode: 0o600 });
  await writeFile(
    join(ssh, 'sshd_config.test-host'),
    [
      `ListenAddress ${address}`,
      'Port 22',
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'AuthorizedKeysFile /etc/ssh/authorized_keys_root',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PrintMotd no',
      'AcceptEnv LANG LC_*',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      '',
    ].join('\n'),
  );
  const units = join(dir, 'base-units');
  await mkdir(join(units, 'multi-user.target.wants'), { recursive: true });
  for (const t of BASE_TARGETS)
    await writeFile(join(units, `${t}.target`), `[Unit]\nDescription=${t} (test host)\n`);
  await symlink('multi-user.target', join(units, 'default.target'));
  await writeFile(
    join(units, 'system.slice'),
    '[Unit]\nDescription=System Slice\nDefaultDependencies=no\nBefore=slices.target\n',
  );
  await writeFile(
    join(units, 'cctv-test-sshd.service'),
    [
      '[Unit]',
      'Description=OpenSSH server of the test host',
      '[Service]',
      'ExecStartPre=/usr/sbin/sshd -t -f /etc/ssh/sshd_config.test-host',
      'ExecStart=/usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.test-host',
      'RuntimeDirectory=sshd',
      'RuntimeDirectoryMode=0755',
      'Restart=on-failure',
      '',
    ].join('\n'),
  );
  await symlink(
    '../cctv-test-sshd.service',
    join(units, 'multi-user.target.wants', 'cctv-test-sshd.service'),
  );
  await chmod(dir, 0o755);
}
