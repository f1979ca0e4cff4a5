/**
 * The agent release for the other architecture (arm64, Raspberry Pi 4/5): the bundle, the
 * production packages with arm64 binaries only, the model, a checksum that matches, and the
 * same bytes when built again. The x64 release is installed and run by ansible-rollout.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { buildRelease, packageName } from '../../scripts/release.ts';
import { tempDir } from '../support/index.ts';

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
