/**
 * TLS for the local cluster: a CA made on the first start under `<data>/tls` (its certificate
 * is what a browser or an agent on another host is told to trust) and one certificate per
 * service for the names the cluster is reached by, each renewed a month before it expires
 * (at the next start; running services pick the new files up by themselves).
 */
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ensureCertificate, ensureLocalCa, type IssuedCertificate } from '@cctv/tls';

export interface LocalTls {
  caFile: string;
  master: IssuedCertificate;
  gateway: IssuedCertificate;
  dashboard: IssuedCertificate;
  agent: IssuedCertificate;
}

export async function ensureLocalTls(dataDir: string, publicHost: string): Promise<LocalTls> {
  const dir = join(dataDir, 'tls');
  const ca = await ensureLocalCa(dir);
  // Every address of this host too: the agent's live view is reached at its first one.
  const addresses = Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a && !a.internal ? [a.address.replace(/%.*$/, '')] : []));
  const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), publicHost, ...addresses])];
  const issue = (base: string) => ensureCertificate(ca, dir, base, { names });
  return {
    caFile: ca.certFile,
    master: await issue('master'),
    gateway: await issue('gateway'),
    dashboard: await issue('dashboard'),
    agent: await issue('agent'),
  };
}
