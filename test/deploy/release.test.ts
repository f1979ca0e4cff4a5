/**
 * The agent release for the other architecture (arm64, Raspberry Pi 4/5): the bundle, the
 * production packages with arm64 binaries only, the model, a checksum that matches, and the
 * same bytes when built again; the master's release migrates a database of its own. The x64
 * releases are installed and run by ansible-rollout.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { DB_ROLES, pendingMigrations, startEmbeddedPostgres } from '../../prisma/src/index.ts';
import { buildRelease, packageName } from '../../scripts/release.ts';
import { freePort, onCleanup, tempDir } from '../support/index.ts';

const run = promisify(execFile);

test('packageName keeps the scope of scoped packages', () => {
  assert.equal(packageName('@prisma/client/runtime/client'), '@prisma/client');
  assert.equal(packageName('ws'), 'ws');
  assert.equal(packageName('node-rtsp-stream/mpeg1muxer.js'), 'node-rtsp-stream');
});

test('the arm64 agent release holds the bundle, arm64 binaries only, and builds to the same bytes', {
  timeout: 180_000,
}, async () => {
  const dir = await tempDir('cctv-release-');
  const version = '0.1.0-test.1';
  const first = await buildRelease('agent', { arch: 'arm64', version, outDir: join(dir, 'a') });
  const second = await buildRelease('agent', { arch: 'arm64', version, outDir: join(dir, 'b') });
  assert.equal(first.name, `cctv-agent-${version}-linux-arm64`);
  assert.equal(first.sha256, second.sha256, 'a rebuild of the same sources is byte for byte the same');
  const bytes = await readFile(first.tarball);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), first.sha256);
  assert.equal(await readFile(`${first.tarball}.sha256`, 'utf8'), `${first.sha256}  ${first.name}.tar.gz\n`);

  const { stdout } = await run('tar', ['-tzvf', first.tarball], { maxBuffer: 64 << 20 });
  const entries = stdout.split('\n').filter(Boolean);
  const names = entries.map((l) => l.split(/\s+/).slice(5).join(' '));
  const top = `${first.name}/`;
  assert.ok(
    names.every((n) => n.startsWith(top)),
    'one top folder',
  );
  for (const must of [
    'package.json',
    'bin/cctv-agent',
    'dist/main.mjs',
    'models/blazeface-back-256.onnx',
    'node_modules/mqtt/package.json',
    'node_modules/werift/package.json',
    'node_modules/node-rtsp-stream/mpeg1muxer.js',
    'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node',
  ])
    assert.ok(names.includes(top + must), `${must} missing`);
  const binaries = names.filter((n) => n.endsWith('.node'));
  assert.ok(binaries.length > 0);
  for (const b of binaries) assert.match(b, /linux\/arm64\//, `a binary of another platform: ${b}`);
  // No TypeScript sources, no development packages.
  assert.ok(!names.some((n) => /node_modules\/(typescript|@biomejs|tsx|esbuild)\//.test(n)));
  assert.ok(!names.some((n) => n.startsWith(`${top}dist/`) && n.endsWith('.ts')));
  // Owned by root, dated by the commit, launcher executable.
  for (const l of entries) assert.match(l, /^\S+ 0\/0 /, l);
  assert.ok(entries.some((l) => l.startsWith('-rwxr-xr-x') && l.endsWith(`${top}bin/cctv-agent`)));

  const { stdout: pkgJson } = await run('tar', ['-xzOf', first.tarball, `${top}package.json`]);
  const pkg = JSON.parse(pkgJson) as {
    name: string;
    version: string;
    cpu: string[];
    dependencies: Record<string, string>;
  };
  assert.equal(pkg.name, 'cctv-agent');
  assert.equal(pkg.version, version);
  assert.deepEqual(pkg.cpu, ['arm64']);
  assert.ok(pkg.dependencies['onnxruntime-node']);
  assert.ok(!pkg.dependencies['@cctv/protocol'], 'workspaces are bundled, not shipped as packages');
});

test('the master release migrates an external database: roles and passwords, migrations, grants; then nothing; it backs the database up and restores it into a new one', {
  timeout: 180_000,
}, async () => {
  const dir = await tempDir('cctv-release-');
  const release = await buildRelease('master', {
    arch: 'x64',
    version: '0.1.0-test.1',
    outDir: join(dir, 'out'),
  });
  await run('tar', ['-C', dir, '-xzf', release.tarball]);
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await freePort() });
  onCleanup(() => server.stop());
  // The roles exist (the embedded server made them) with passwords of its own; nothing is migrated.
  const password = { owner: 'owner-pw-1', master: 'master-pw-1', gateway: 'gateway-pw-1' };
  const asRole = (role: keyof typeof DB_ROLES) => {
    const url = new URL(server.urls.owner);
    url.username = DB_ROLES[role];
    url.password = password[role];
    return url.href;
  };
  const migrate = async () =>
    (
      await run(process.execPath, [join(dir, release.name, 'dist', 'migrate.mjs')], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: asRole('owner'),
          DATABASE_ADMIN_URL: server.superuserUrl,
          CCTV_DB_OWNER_PASSWORD: password.owner,
          CCTV_DB_MASTER_PASSWORD: password.master,
          CCTV_DB_GATEWAY_PASSWORD: password.gateway,
        },
      })
    ).stdout;
  const first = await migrate();
  assert.match(first, /^migrate: set the password of cctv_owner, cctv_master, cctv_gateway$/m, first);
  assert.match(first, /^migrate: applied 2\d+_init, /m, first);
  assert.doesNotMatch(first, /pw-1/, 'passwords never printed');
  assert.deepEqual(await pendingMigrations(asRole('master')), []);
  // The gateway logs in with its new password and has its grants.
  const gateway = new pg.Client({ connectionString: asRole('gateway') });
  await gateway.connect();
  try {
    await gateway.query('SELECT count(*) FROM "Segment"');
  } finally {
    await gateway.end();
  }
  // A second run changes nothing, and says so.
  const second = await migrate();
  assert.doesNotMatch(second, /^migrate: (created|set|applied) /m, second);
  assert.match(second, /^migrate: schema up to date$/m, second);

  // Its backup and restore commands, with the master's environment: into a new database.
  const admin = new pg.Client({ connectionString: server.superuserUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE restored OWNER cctv_owner');
  await admin.end();
  const onRestored = (role: keyof typeof DB_ROLES) => {
    const url = new URL(asRole(role));
    url.pathname = '/restored';
    return url.href;
  };
  const command = async (name: string, args: string[], ownerUrl: string) =>
    (
      await run(join(dir, release.name, 'bin', name), args, {
        cwd: dir,
        env: { PATH: process.env.PATH, DATABASE_OWNER_URL: ownerUrl, MASTER_DATA_DIR: join(dir, 'master') },
      })
    ).stdout;
  const backup = await command('backup', ['--out', join(dir, 'b.tar.gz')], asRole('owner'));
  assert.match(backup, /^backup: \d+ tables, 0 rows, \d+ migrations/m, backup);
  const restored = await command('restore', [join(dir, 'b.tar.gz')], onRestored('owner'));
  assert.match(restored, /^restore: done/m, restored);
  assert.deepEqual(await pendingMigrations(onRestored('master')), [], 'the master may use it');
});
