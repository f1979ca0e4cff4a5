/**
 * Debian's Mosquitto on a free port for tests, no persistence; stopped after the file. Anonymous
 * access, or with `auth` the logins of a password file and the topic rules of an ACL file.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, onCleanup, tempDir, waitFor } from './index.ts';

export interface Mosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

export async function startMosquitto(auth?: { passwordFile: string; aclFile: string }): Promise<Mosquitto> {
  const dir = await tempDir('cctv-mosquitto-');
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const access = auth
    ? [
        'allow_anonymous false',
        `password_file ${auth.passwordFile}`,
        `acl_file ${auth.aclFile}`,
        // Started as root it would read them as user mosquitto, which a test's temp dir keeps out.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
      ]
    : ['allow_anonymous true'];
  await writeFile(
    conf,
    [`listener ${port} 127.0.0.1`, ...access, 'persistence false', 'log_dest stderr', ''].join('\n'),
  );
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  onCleanup(stop);
  await waitFor(
    'mosquitto listening',
    () =>
      new Promise<boolean>((resolve) => {
        if (child.exitCode !== null) throw new Error(`mosquitto exited: ${log}`);
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.end();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    10_000,
    100,
  );
  return { url: `mqtt://127.0.0.1:${port}`, port, stop };
}
