/**
 * A service's own certificate: read from the files its configuration names, and read again
 * when they change (a renewed certificate is served to new connections without a restart).
 */
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Reads a certificate and key pair; throws an Error naming `what` (the config key) when a
 * file is missing or unreadable, or when the key does not belong to the certificate.
 */
export function readServerTls(files: TlsFiles, what = 'TLS'): { cert: Buffer; key: Buffer } {
  const read = (file: string, kind: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `${what}: cannot read the ${kind} ${file} (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
  };
  const pair = { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'key') };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(
      `${what}: ${files.certFile} and ${files.keyFile} are not a certificate and its key (${(err as Error).message})`,
    );
  }
  return pair;
}

function mtimes(files: TlsFiles): string {
  try {
    return `${statSync(files.certFile).mtimeMs}/${statSync(files.keyFile).mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Polls the files every `intervalMs` and hands a changed pair to `server.setSecureContext`.
 * A pair that fails to load (half written, mismatched) keeps the old one and is reported.
 */
export function reloadOnChange(
  server: { setSecureContext(options: SecureContextOptions): void },
  files: TlsFiles,
  report: (err: Error | null) => void,
  intervalMs = 60_000,
): () => void {
  let seen = mtimes(files);
  const timer = setInterval(() => {
    const now = mtimes(files);
    if (now === seen || now === 'missing') return;
    seen = now;
    try {
      server.setSecureContext(readServerTls(files));
      report(null);
    } catch (err) {
      report(err as Error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The CA bundle a client trusts instead of the system's roots; throws naming `what`. */
export function readCaFile(file: string, what = 'TLS CA'): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
