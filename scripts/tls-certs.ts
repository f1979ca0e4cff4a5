/**
 * Certificates for a deployment without its own CA (deploy/compose):
 * `node --import tsx scripts/tls-certs.ts <dir> <host names...>` makes a CA under `<dir>`
 * (ca.crt, ca.key; kept when present) and master.crt/.key, gateway.crt/.key and
 * dashboard.crt/.key for the names given, the service's name on the Compose network and the
 * loopback names. Run again, it keeps what is still good and renews what expires within 30 days.
 */
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';

const [dir, ...names] = process.argv.slice(2);
if (!dir || names.length === 0) {
  console.error('usage: node --import tsx scripts/tls-certs.ts <dir> <host name or address...>');
  process.exit(2);
}
const ca = await ensureLocalCa(dir);
const loopback = ['localhost', '127.0.0.1', '::1'];
// Base name of the files, and the service's name on the Compose network.
const services = [
  ['master', 'master'],
  ['gateway', 'storage-gateway'],
  ['dashboard', 'dashboard'],
] as const;
for (const [base, service] of services) {
  const cert = await ensureCertificate(ca, dir, base, {
    names: [...new Set([...names, service, ...loopback])],
  });
  console.log(
    `${cert.issued ? 'issued' : 'kept  '} ${cert.certFile} (until ${cert.notAfter.toISOString().slice(0, 10)})`,
  );
}
console.log(
  `CA: ${ca.certFile} (agents and browsers trust this one; keep ca.key off the servers if you can)`,
);
