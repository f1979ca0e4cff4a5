import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureCertificate, ensureLocalCa } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'cctv-ca-'));
after(() => rm(dir, { recursive: true, force: true }));

async function get(url: string, ca: Buffer, servername?: string): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, servername }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a local CA issues certificates a client verifies, keeps good ones and renews the rest', async () => {
  const ca = await ensureLocalCa(dir);
  assert.equal(statSync(ca.keyFile).mode & 0o777, 0o600);
  const again = await ensureLocalCa(dir);
  assert.equal(again.pem, ca.pem, 'the CA is made once');

  const first = await ensureCertificate(ca, dir, 'svc', { names: ['localhost', '127.0.0.1'] });
  assert.equal(first.issued, true);
  assert.equal(statSync(first.keyFile).mode & 0o777, 0o600);
  const kept = await ensureCertificate(ca, dir, 'svc', { names: ['localhost', '127.0.0.1'] });
  assert.equal(kept.issued, false, 'a good certificate is kept');
  const renamed = await ensureCertificate(ca, dir, 'svc', {
    names: ['localhost', '127.0.0.1', 'cctv.example'],
  });
  assert.equal(renamed.issued, true, 'a new name means a new certificate');
  const late = new Date(Date.now() + 340 * 86_400_000);
  const renewed = await ensureCertificate(ca, dir, 'svc', { names: ['localhost'], now: late });
  assert.equal(renewed.issued, true, 'renewed within a month of expiry');
  const served = await ensureCertificate(ca, dir, 'svc', { names: ['localhost', '127.0.0.1'] });

  const server = createServer(
    { cert: await readFile(served.certFile), key: await readFile(served.keyFile) },
    (_req, res) => res.end('ok'),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const caPem = await readFile(ca.certFile);
  assert.equal(await get(`https://localhost:${port}/`, caPem), 200);
  // Not a name of the certificate, and not a CA the client trusts: both refused.
  await assert.rejects(get(`https://127.0.0.1:${port}/`, caPem, 'other.example'), /altnames|Hostname/);
  const otherCa = await ensureLocalCa(join(dir, 'other'));
  await assert.rejects(
    get(`https://localhost:${port}/`, await readFile(otherCa.certFile)),
    /self.signed|unable to verify|issuer/i,
  );
});
