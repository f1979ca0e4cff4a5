// The dashboard's HTTP server: Next's request handler, behind a front that decides who the
// client is. Next itself keeps any X-Forwarded-For a client sends, and the /api/* proxy passes
// it to the master, whose sign-in throttle and audit log would then believe an address the
// client chose. Here the header is replaced by the real client address: the connection's peer,
// or, when the peer is a proxy listed in DASHBOARD_TRUST_PROXY, the address that proxy names.
// X-Forwarded-Host/-Proto/-Port are dropped unless a trusted proxy set them.
//
// Usage (as `next start`): node server.mjs [-p PORT] [-H HOST]; env PORT, HOSTNAME,
// DASHBOARD_TRUST_PROXY (comma-separated addresses or CIDRs, e.g. 10.0.0.5,10.1.0.0/16).
import { createServer } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import proxyAddr from '@fastify/proxy-addr';
import next from 'next';

function arg(flag, fallback) {
  const i = process.argv.indexOf(flag);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const port = Number(arg('-p', process.env.PORT ?? '3000'));
const hostname = arg('-H', process.env.HOSTNAME ?? '0.0.0.0');
const trusted = (process.env.DASHBOARD_TRUST_PROXY ?? '')
  .split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '');
let trust;
try {
  trust = proxyAddr.compile(trusted);
} catch (err) {
  process.stderr.write(`DASHBOARD_TRUST_PROXY: ${err.message}\n`);
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`-p / PORT must be a TCP port, got ${port}\n`);
  process.exit(2);
}

const app = next({ dev: false, dir: dirname(fileURLToPath(import.meta.url)), hostname, port });
await app.prepare();
const handle = app.getRequestHandler();

const server = createServer((req, res) => {
  const peerTrusted = trust(req.socket.remoteAddress ?? '', 0);
  req.headers['x-forwarded-for'] = proxyAddr(req, trust);
  if (!peerTrusted) {
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-proto'];
    delete req.headers['x-forwarded-port'];
  }
  handle(req, res);
});
server.listen(port, hostname, () => {
  process.stdout.write(`dashboard listening on http://${hostname}:${port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
