/**
 * Debian's OpenSMTPD on a free port for tests: it takes mail for one test domain, delivers it to
 * a Maildir the test reads back, and refuses every other recipient (it never relays). It needs
 * root (it drops to its own users), and one runs per machine at a time: its control socket has a
 * fixed path, so a start waits for another test's server to stop (and fails, after a minute,
 * while the package's own service runs: `systemctl disable --now opensmtpd`).
 *
 * Plain SMTP only: Debian 12's OpenSMTPD 6.8 fails every TLS handshake with OpenSSL 3 (its
 * privilege-separated signing finds no private key, RSA or ECDSA alike).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import { freePort, onCleanup, tempDir, waitFor } from './index.ts';

export const SMTPD = '/usr/sbin/smtpd';
/** The user mail is delivered as: OpenSMTPD refuses to deliver as root. */
const MAIL_USER = 'nobody';

export interface SmtpServer {
  port: number;
  /** Mail for any address at this domain is taken; anything else is refused with 550. */
  domain: string;
  /** Every message delivered so far, oldest first. */
  readMessages(): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

/** Why the server cannot run here, or null. */
export function smtpServerUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'OpenSMTPD needs root';
  if (!existsSync(SMTPD))
    return `${SMTPD} is missing (Debian package opensmtpd; scripts/bootstrap.mjs --test)`;
  return null;
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no user ${name}`);
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startSmtpServer(
  opts: { domain?: string; starttls?: boolean } = {},
): Promise<SmtpServer> {
  const domain = opts.domain ?? 'example.test';
  const dir = await tempDir('cctv-smtpd-');
  // The delivery runs as MAIL_USER, which must reach its Maildir below this root-owned folder.
  await chmod(dir, 0o711);
  const maildir = join(dir, 'Maildir');
  await mkdir(maildir);
  const { uid, gid } = await userIds(MAIL_USER);
  await chown(maildir, uid, gid);

  const port = await freePort();
  const lines = [`table recipients { "@" = "${MAIL_USER}" }`];
  lines.push(`listen on 127.0.0.1 port ${port} hostname localhost`);
  lines.push(
    `action "mailbox" maildir "${maildir}" virtual <recipients>`,
    `match from any for domain "${domain}" action "mailbox"`,
    '',
  );
  const conf = join(dir, 'smtpd.conf');
  await writeFile(conf, lines.join('\n'));

  let child: ChildProcess | null = null;
  let log = '';
  const stop = () =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  onCleanup(stop);

  await waitFor(
    'OpenSMTPD listening',
    () => {
      if (child === null || child.exitCode !== null) {
        // A server of another test still holds the control socket: start again after it.
        if (child !== null && !/control socket already listening|already running/.test(log))
          throw new Error(`smtpd exited: ${log}`);
        log = '';
        // -P mta: nothing is ever sent on to another server, whatever the configuration says.
        const c = spawn(SMTPD, ['-d', '-P', 'mta', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
        const keep = (b: Buffer) => {
          log = (log + b.toString()).slice(-20_000);
        };
        c.stdout?.on('data', keep);
        c.stderr?.on('data', keep);
        child = c;
        return false;
      }
      return new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.end();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    },
    60_000,
    200,
  );

  return {
    port,
    domain,
    async readMessages() {
      const found: { name: string; at: number }[] = [];
      for (const sub of ['new', 'cur']) {
        let names: string[] = [];
        try {
          names = await readdir(join(maildir, sub));
        } catch {}
        // Maildir names start with the delivery time in seconds; the rest orders within one.
        for (const name of names) found.push({ name: join(sub, name), at: Number.parseInt(name, 10) || 0 });
      }
      found.sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
      return Promise.all(found.map(async (f) => simpleParser(await readFile(join(maildir, f.name)))));
    },
    stop,
  };
}
