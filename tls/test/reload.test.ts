import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { ensureCertificate, ensureLocalCa, readServerTls, reloadOnChange } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'cctv-reload-'));
after(() => rm(dir, { recursive: true, force: true }));

function serial(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, ca, agent: false }, (res) => {
      resolve(
        (res.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate()
          .serialNumber,
      );
      res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

test('a server takes a renewed certificate without a restart, and keeps its own over a broken one', async () => {
  const ca = await ensureLocalCa(dir);
  const first = await ensureCertificate(ca, join(dir, 'a'), 'svc', { names: ['127.0.0.1'] });
  const second = await ensureCertificate(ca, join(dir, 'b'), 'svc', { names: ['127.0.0.1'] });
  const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
  await copyFile(first.certFile, live.certFile);
  await copyFile(first.keyFile, live.keyFile);
  const server = createServer(readServerTls(live), (_req, res) => res.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => server.close());
  const reports: (string | null)[] = [];
  const stop = reloadOnChange(server, live, (err) => reports.push(err ? err.message : null), 50);
  after(stop);
  const port = (server.address() as { port: number }).port;
  const caPem = await readFile(ca.certFile);
  const before = await serial(port, caPem);

  await copyFile(second.certFile, live.certFile);
  await copyFile(second.keyFile, live.keyFile);
  const later = new Date(Date.now() + 5000);
  await utimes(live.certFile, later, later);
  await new Promise((r) => setTimeout(r, 300));
  const renewed = await serial(port, caPem);
  assert.notEqual(renewed, before, 'the renewed certificate is served');
  assert.deepEqual(reports, [null]);

  // A key that does not belong to the certificate: reported, the served one kept.
  await copyFile(first.keyFile, live.keyFile);
  const later2 = new Date(Date.now() + 10_000);
  await utimes(live.keyFile, later2, later2);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(reports.length, 2);
  assert.match(reports[1] ?? '', /not a certificate and its key/);
  assert.equal(await serial(port, caPem), renewed);
});
