/**
 * A local certificate authority for a site without one: made once (ECDSA P-256, ten years), it
 * issues the services' certificates (one year, renewed a month before they expire). Keys are
 * written 0600; certificates 0644. X.509 is built by @peculiar/x509 on Node's WebCrypto.
 */
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface LocalCa {
  certFile: string;
  keyFile: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
  /** The CA certificate, PEM. */
  pem: string;
}

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  notAfter: Date;
  /** True when this call wrote a new certificate (first issue or renewal). */
  issued: boolean;
}

export interface IssueOptions {
  /** DNS names and IP addresses the certificate is valid for (the first one is its CN). */
  names: string[];
  /** Validity in days (default 365). */
  days?: number;
  /** Reissued when fewer days than this remain, or when a name is missing (default 30). */
  renewBeforeDays?: number;
  /** `server` (default) or `client`: the extended key usage. Servers may also be clients. */
  usage?: 'server' | 'client';
  now?: Date;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // a positive integer
  return Buffer.from(bytes).toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(b64, 'base64'), ALG, true, ['sign']);
}

/** Writes through a temp file and a rename: a reader never sees half a key or certificate. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

/** The CA under `dir` (`ca.crt`, `ca.key`), made on first use. */
export async function ensureLocalCa(dir: string, name = 'CCTV local CA'): Promise<LocalCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const pem = await readFile(certFile, 'utf8');
    await chmod(keyFile, 0o600);
    return {
      certFile,
      keyFile,
      cert: new x509.X509Certificate(pem),
      key: await importKey(await readFile(keyFile, 'utf8')),
      pem,
    };
  }
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}, O=CCTV cluster`,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pem = `${cert.toString('pem')}\n`;
  await writeAtomic(keyFile, await keyPem(keys.privateKey), 0o600);
  await writeAtomic(certFile, pem, 0o644);
  return { certFile, keyFile, cert, key: keys.privateKey, pem };
}

/** Whether `pem` is a certificate this CA signed, for every one of `names`, valid past `until`. */
async function stillGood(
  ca: LocalCa,
  pem: string,
  names: string[],
  now: Date,
  until: Date,
): Promise<Date | null> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pem);
  } catch {
    return null;
  }
  if (cert.issuer !== ca.cert.subject) return null;
  if (!(await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }).catch(() => false)))
    return null;
  if (cert.notBefore.getTime() > now.getTime() || cert.notAfter.getTime() <= until.getTime()) return null;
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const have = new Set((san?.names.items ?? []).map((n) => n.value.toLowerCase()));
  return names.every((n) => have.has(n.toLowerCase())) ? cert.notAfter : null;
}

/**
 * `<dir>/<base>.crt` and `.key` for `names`, signed by `ca`: kept while still good, else
 * (re)issued with a new key.
 */
export async function ensureCertificate(
  ca: LocalCa,
  dir: string,
  base: string,
  opts: IssueOptions,
): Promise<IssuedCertificate> {
  if (opts.names.length === 0) throw new Error('a certificate needs at least one name');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, `${base}.crt`);
  const keyFile = join(dir, `${base}.key`);
  const now = opts.now ?? new Date();
  const renewBefore = new Date(now.getTime() + (opts.renewBeforeDays ?? 30) * DAY_MS);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const notAfter = await stillGood(ca, await readFile(certFile, 'utf8'), opts.names, now, renewBefore);
    if (notAfter) {
      await chmod(keyFile, 0o600);
      return { certFile, keyFile, notAfter, issued: false };
    }
  }
  const { certPem, keyPem: key, notAfter } = await issueCertificate(ca, opts);
  await writeAtomic(keyFile, key, 0o600);
  await writeAtomic(certFile, certPem, 0o644);
  return { certFile, keyFile, notAfter, issued: true };
}

/** A new key and a certificate for it, in memory (PEM). */
export async function issueCertificate(
  ca: LocalCa,
  opts: IssueOptions,
): Promise<{ certPem: string; keyPem: string; notAfter: Date }> {
  const now = opts.now ?? new Date();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notAfter = new Date(now.getTime() + (opts.days ?? 365) * DAY_MS);
  const [first] = opts.names;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${first}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        opts.usage === 'client'
          ? [x509.ExtendedKeyUsage.clientAuth]
          : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      ),
      new x509.SubjectAlternativeNameExtension(
        opts.names.map((n) =>
          isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
        ),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  // The chain a client needs beyond its trust anchor is empty: the CA signs leaves directly.
  return { certPem: `${cert.toString('pem')}\n`, keyPem: await keyPem(keys.privateKey), notAfter };
}

/** The base64 SHA-256 of a certificate's SubjectPublicKeyInfo (browsers' SPKI pins). */
export async function spkiSha256(certPem: string): Promise<string> {
  const cert = new x509.X509Certificate(certPem);
  const digest = await webcrypto.subtle.digest('SHA-256', cert.publicKey.rawData);
  return Buffer.from(digest).toString('base64');
}
