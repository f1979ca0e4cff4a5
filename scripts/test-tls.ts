/**
 * The test run's own CA and one certificate for the loopback names every test service listens
 * on: `node --import tsx scripts/test-tls.ts <dir>` writes ca.crt, ca.key, server.crt and
 * server.key there (scripts/test.mjs runs it once per run).
 */
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: test-tls.ts <dir>');
  process.exit(2);
}
const ca = await ensureLocalCa(dir, 'CCTV test CA');
await ensureCertificate(ca, dir, 'server', {
  names: ['localhost', '127.0.0.1', '::1'],
  days: 30,
  renewBeforeDays: 1,
});
