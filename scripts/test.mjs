// Runs the whole test suite: lint, typecheck, the dependency audit, the Markdown link check, then every
// *.test.ts with node's test runner.
// Usage: node scripts/test.mjs [filter...]   (filters match test file paths)
//        node scripts/test.mjs --unit        (the fast tier of scripts/test-tiers.mjs, no lint)
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { SIDE_LANE, UNIT } from './test-tiers.mjs';

const root = new URL('..', import.meta.url).pathname;
const unit = process.argv.includes('--unit');
const filters = process.argv.slice(2).filter((a) => a !== '--unit');
const roots = [
  'protocol/test',
  'tls/test',
  'vision/test',
  'prisma/test',
  'master/test',
  'storage-gateway/test',
  'node-agent/test',
  'dashboard/test',
  'test',
];

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

function run(cmd, args, env = process.env) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    cleanup();
    process.exit(r.status ?? 1);
  }
}

// Every service a test starts speaks TLS with a certificate of this run's own CA, which the
// test processes and their children trust (test/support/tls.ts).
const tlsDir = mkdtempSync(join(tmpdir(), 'cctv-test-tls-'));
function cleanup() {
  rmSync(tlsDir, { recursive: true, force: true });
}
run(process.execPath, ['--import', 'tsx', 'scripts/test-tls.ts', tlsDir]);
const testEnv = {
  ...process.env,
  CCTV_TEST_TLS_DIR: tlsDir,
  NODE_EXTRA_CA_CERTS: join(tlsDir, 'ca.crt'),
};

if (filters.length === 0 && !unit) {
  run('npx', ['biome', 'ci', '.']);
  run('npx', ['tsc', '-p', 'tsconfig.json']);
  run('npx', ['tsc', '-p', 'dashboard/tsconfig.json', '--noEmit']);
  // Known high and critical advisories of production dependencies (audit-allowlist.json).
  run(process.execPath, ['scripts/audit.mjs']);
  // Every relative link of the Markdown files names a file of the repository.
  run(process.execPath, ['scripts/check-links.mjs']);
}

const files = roots
  .flatMap((d) => walk(join(root, d), []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !unit || UNIT.includes(f));
const missing = unit ? UNIT.filter((f) => !files.includes(f)) : [];
if (missing.length > 0) {
  console.error(`the unit tier names test files that do not exist: ${missing.join(', ')}`);
  process.exit(1);
}
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// One file at a time: integration tests start real servers and ffmpeg on a 2-core machine. The
// unit tier starts none, so its files run side by side. A full run takes the files that mostly
// wait (SIDE_LANE) out of the main lane into a second one, its output in a file printed after.
const concurrency = unit ? Math.max(2, availableParallelism()) : 1;
const testArgs = (list, jobs = concurrency) => [
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${jobs}`,
  '--test-reporter=spec',
  ...list,
];
const side = filters.length === 0 && !unit ? files.filter((f) => SIDE_LANE.includes(f)) : [];
let sideLane = null;
if (side.length > 0) {
  const log = join(tlsDir, 'side-lane.log');
  const fd = openSync(log, 'w');
  const child = spawn(process.execPath, testArgs(side), {
    cwd: root,
    stdio: ['ignore', fd, fd],
    env: testEnv,
  });
  closeSync(fd);
  console.log(`\n$ (side lane) ${side.join(' ')}`);
  sideLane = {
    log,
    done: new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))),
  };
}
// In a full run the fast tier's files go first, side by side (they start no server), then the
// rest one at a time.
const mainFiles = files.filter((f) => !side.includes(f));
const batches =
  side.length > 0
    ? [mainFiles.filter((f) => UNIT.includes(f)), mainFiles.filter((f) => !UNIT.includes(f))]
    : [mainFiles];
let status = 0;
for (const [i, batch] of batches.entries()) {
  if (batch.length === 0) continue;
  const jobs = batches.length > 1 && i === 0 ? Math.max(2, availableParallelism()) : concurrency;
  const main = spawnSync(process.execPath, testArgs(batch, jobs), {
    cwd: root,
    stdio: 'inherit',
    env: testEnv,
  });
  status = status || (main.status ?? 1);
}
if (sideLane) {
  const sideStatus = await sideLane.done;
  console.log('\n--- side lane ---');
  process.stdout.write(readFileSync(sideLane.log, 'utf8'));
  if (sideStatus !== 0) status = status || sideStatus;
}
cleanup();
process.exit(status);
