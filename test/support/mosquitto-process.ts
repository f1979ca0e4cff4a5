/**
 * Debian's Mosquitto on a free port, no persistence, its config written to `dir`; the caller
 * says how it is stopped at the end (tests: after the file, through `mosquitto.ts`; benchmarks:
 * their own cleanup stack). No test runner here. Anonymous access, or with `auth` the logins of
 * a password file and the topic rules of an ACL file.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitListening } from './plain.ts';

export interface Mosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Where its mosquitto.conf goes. */
  dir: string;
  auth?: { passwordFile: string; aclFile: string } | undefined;
  /** More mosquitto.conf lines (limits, logging), after the listener and access lines. */
  config?: string[] | undefined;
  /**
   * Its open-file limit (`ulimit -n` in a shell that then becomes the broker): one descriptor a
   * client. Default: this process's own.
   */
  openFiles?: number | undefined;
}

export interface MosquittoProcess extends Mosquitto {
  pid: number;
  /** The last 20 KB it printed on stderr. */
  log(): string;
}

/** Starts the broker and waits until it accepts connections; `onStop` gets its stop. */
export async function launchMosquitto(
  o: MosquittoOptions,
  onStop: (stop: () => Promise<void>) => void,
): Promise<MosquittoProcess> {
  const port = await freePort();
  const conf = join(o.dir, 'mosquitto.conf');
  const access = o.auth
    ? [
        'allow_anonymous false',
        `password_file ${o.auth.passwordFile}`,
        `acl_file ${o.auth.aclFile}`,
        // Started as root it would read them as user mosquitto, which a test's temp dir keeps out.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
      ]
    : ['allow_anonymous true'];
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...access,
      'persistence false',
      'log_dest stderr',
      ...(o.config ?? []),
      '',
    ].join('\n'),
  );
  // `exec` keeps the broker the very process started (its pid, its signals).
  const child =
    o.openFiles === undefined
      ? spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('/bin/sh', ['-c', `ulimit -n ${o.openFiles} && exec ${MOSQUITTO} -c "$0"`, conf], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-20_000);
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  onStop(stop);
  await waitListening('mosquitto', port, child, () => log);
  if (child.pid === undefined) throw new Error('mosquitto has no pid');
  return { url: `mqtt://127.0.0.1:${port}`, port, stop, pid: child.pid, log: () => log };
}
