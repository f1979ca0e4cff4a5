/**
 * The PostgreSQL processes behind `startEmbeddedPostgres`, once placed
 * (`postgres-placement.ts`): `initdb` for a new cluster, the server until it takes
 * connections, and its stop (also when this process exits).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Placement, PostgresStartError, type RunAs } from './postgres-placement.ts';

const env = { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' };

function spawnError(bin: string, err: NodeJS.ErrnoException, runAs: RunAs | null): PostgresStartError {
  const who = runAs ? 'the postgres user' : 'this user';
  return new PostgresStartError(
    `cannot run ${bin} as ${who} (${err.code}): it needs search permission on every folder above it; set CCTV_POSTGRES_HOME to a folder every user can reach, or set DATABASE_URL`,
  );
}

/** A new cluster in `clusterDir` whose superuser `user` has `password` (scram-sha-256). */
export async function initCluster(p: Placement, user: string, password: string, log: (line: string) => void) {
  await mkdir(p.clusterDir, { recursive: true, mode: 0o700 });
  // The password goes through a file only the server's user can read, beside the cluster.
  const pwfile = join(dirname(p.clusterDir), `.initdb-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (p.runAs) {
      await chown(p.clusterDir, p.runAs.uid, p.runAs.gid);
      await chown(pwfile, p.runAs.uid, p.runAs.gid);
    }
    const args = [
      `--pgdata=${p.clusterDir}`,
      '--auth=scram-sha-256',
      `--username=${user}`,
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--locale=C',
    ];
    await new Promise<void>((done, fail) => {
      const child = spawn(p.binaries.initdb, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...p.runAs });
      let errors = '';
      child.stdout.on('data', (b: Buffer) => log(b.toString().trim()));
      child.stderr.on('data', (b: Buffer) => {
        errors += b.toString();
        log(b.toString().trim());
      });
      child.on('error', (err) => fail(spawnError(p.binaries.initdb, err, p.runAs)));
      child.on('close', (code, signal) => {
        if (code === 0) return done();
        const last = errors.trim().split('\n').pop() ?? '';
        fail(new PostgresStartError(`initdb failed for ${p.clusterDir} (${code ?? signal}): ${last}`));
      });
    });
  } finally {
    await rm(pwfile, { force: true });
  }
}

export interface ServerProcess {
  stop(): Promise<void>;
}

const READY = 'database system is ready to accept connections';

/** Starts the server and resolves once it takes connections. */
export function startServer(
  p: Placement,
  port: number,
  flags: string[],
  log: (line: string) => void,
): Promise<ServerProcess> {
  const child = spawn(p.binaries.postgres, ['-D', p.clusterDir, '-p', String(port), ...flags], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...p.runAs,
  });
  // Whatever ends this process, the server is asked to stop (fast shutdown) rather than left behind.
  const onExit = () => child.kill('SIGINT');
  process.on('exit', onExit);
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  void exited.then(() => process.removeListener('exit', onExit));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const late = setTimeout(() => child.kill('SIGQUIT'), 30_000);
    await exited;
    clearTimeout(late);
  };
  return new Promise((done, fail) => {
    let tail = '';
    child.stderr.setEncoding('utf8');
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => log(s.trim()));
    child.stderr.on('data', (s: string) => {
      log(s.trim());
      tail = (tail + s).slice(-2000);
      if (tail.includes(READY)) done({ stop });
    });
    child.on('error', (err) => fail(spawnError(p.binaries.postgres, err, p.runAs)));
    child.on('close', (code, signal) => {
      const last =
        tail
          .trim()
          .split('\n')
          .filter((l) => /FATAL|ERROR|PANIC/.test(l))
          .pop() ?? tail.trim().split('\n').pop();
      fail(
        new PostgresStartError(`PostgreSQL exited before taking connections (${code ?? signal}): ${last}`),
      );
    });
  });
}
