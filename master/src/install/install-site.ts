/**
 * What the one-line install hands out: the master's CA certificate and its sha256, the install
 * script, the agent releases of `MASTER_RELEASE_DIR` (as scripts/release.ts writes them:
 * `cctv-agent-<version>-linux-<arch>.tar.gz` with its `.sha256`), and the line itself.
 * Files are read when asked for, so that a new release or a renewed CA needs no restart.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RELEASE_ARCHES, type ReleaseArch } from '@cctv/protocol';

export interface InstallSettings {
  /** `MASTER_PUBLIC_URL`: the master's HTTPS URL as new hosts reach it. */
  publicUrl: string;
  /** `MASTER_RELEASE_DIR`: the agent releases; null: none offered. */
  releaseDir: string | null;
  /** `MASTER_CA_CERT`: the CA certificate nodes are to trust; null: the install is off. */
  caFile: string | null;
  /** The install script served as `/install/agent.sh`. */
  scriptFile: string;
}

export interface AgentRelease {
  version: string;
  file: string;
  sha256: string;
  path: string;
}

export class InstallUnavailable extends Error {
  readonly code = 'INSTALL_UNAVAILABLE';
}

const RELEASE_NAME = /^cctv-agent-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)-linux-(x64|arm64)\.tar\.gz$/;

/** Version order: numeric parts as numbers (1.10.0 after 1.9.0). */
const byVersion = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

export class InstallSite {
  constructor(readonly settings: InstallSettings) {}

  caPem(): string {
    const file = this.settings.caFile;
    if (!file || !existsSync(file))
      throw new InstallUnavailable(
        `the master has no CA certificate to give new nodes (MASTER_CA_CERT${file ? `: ${file} is missing` : ' is not set'})`,
      );
    return readFileSync(file, 'utf8');
  }

  /** sha256 (hex) of `caPem()`'s bytes, as `sha256sum` prints it on the host. */
  caSha256(): string {
    return createHash('sha256').update(this.caPem(), 'utf8').digest('hex');
  }

  /** Throws InstallUnavailable unless install lines can work: a CA to pin, releases to offer. */
  ready(): void {
    this.caPem();
    if (!this.settings.releaseDir)
      throw new InstallUnavailable('the master offers no agent releases (MASTER_RELEASE_DIR is not set)');
  }

  script(): string {
    return readFileSync(this.settings.scriptFile, 'utf8');
  }

  /** The release for `arch`: `version`, else the newest; null when there is none. */
  release(arch: ReleaseArch, version?: string): AgentRelease | null {
    const dir = this.settings.releaseDir;
    if (!dir)
      throw new InstallUnavailable('the master offers no agent releases (MASTER_RELEASE_DIR is not set)');
    if (!RELEASE_ARCHES.includes(arch)) return null;
    const versions = (existsSync(dir) ? readdirSync(dir) : [])
      .map((f) => RELEASE_NAME.exec(f))
      .filter(
        (m): m is RegExpExecArray => m !== null && m[2] === arch && existsSync(join(dir, `${m[0]}.sha256`)),
      )
      .map((m) => m[1] as string)
      .sort(byVersion);
    const chosen = version ?? versions.at(-1);
    if (!chosen || !versions.includes(chosen)) return null;
    const file = `cctv-agent-${chosen}-linux-${arch}.tar.gz`;
    const sha256 = readFileSync(join(dir, `${file}.sha256`), 'utf8').split(/\s+/)[0] ?? '';
    return { version: chosen, file, sha256, path: join(dir, file) };
  }

  /**
   * The line to paste on the new host, as root. In a subshell, with a private temporary folder
   * removed at its end: fetch the CA without trusting anything, stop unless its sha256 is the
   * one in the line, then fetch the script over TLS verified with that CA and run it from the
   * file (never piped: a cut download must not run half a script). The token goes in the
   * script's environment, not on its command line (other users could read that in `ps`).
   */
  line(token: string, caSha256: string): string {
    const url = this.settings.publicUrl;
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    return [
      `(d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT`,
      `curl -fsSk ${quote(`${url}/install/ca.pem`)} -o "$d/ca.pem"`,
      `{ echo "${caSha256}  $d/ca.pem" | sha256sum -c --quiet || { echo "cctv install: the master's CA certificate is not the one of this line; nothing was installed" >&2; false; }; }`,
      `curl -fsS --cacert "$d/ca.pem" ${quote(`${url}/install/agent.sh`)} -o "$d/agent.sh"`,
      `CCTV_INSTALL_TOKEN=${quote(token)} sh "$d/agent.sh" --master ${quote(url)} --ca "$d/ca.pem")`,
    ].join(' && ');
  }
}
