// The dashboard's HTTP server: Next's request handler, behind a front that decides who the
// client is. Next itself keeps any X-Forwarded-For a client sends, and the /api/* proxy passes
// it to the master, whose sign-in throttle and audit log would then believe an address the
// client chose. Here the header is replaced by the real client address: the connection's peer,
// or, when the peer is a proxy listed in DASHBOARD_TRUST_PROXY, the address that proxy names.
// X-Forwarded-Host/-Proto/-Port are dropped unless a trusted proxy set them.
//
//
// It serves HTTPS (DASHBOARD_TLS_CERT / DASHBOARD_TLS_KEY, read again when they change) unless
// DASHBOARD_TLS=off (a TLS-terminating proxy in front), and sends every page with helmet's
// security headers: a content security policy that allows scripts from this origin only (plus
// the inline bootstrap Next writes into each page), footage and sockets over TLS only, no
// framing; HSTS with TLS.
//
// Usage (as `next start`): node server.mjs [-p PORT] [-H HOST]; env PORT, HOSTNAME,
// DASHBOARD_TRUST_PROXY (comma-separated addresses or CIDRs, e.g. 10.0.0.5,10.1.0.0/16).
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import proxyAddr from '@fastify/proxy-addr';
import helmet from 'helmet';
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

const tlsMode = process.env.DASHBOARD_TLS?.trim() || 'on';
let tls = null;
if (tlsMode === 'on') {
  const certFile = process.env.DASHBOARD_TLS_CERT?.trim();
  const keyFile = process.env.DASHBOARD_TLS_KEY?.trim();
  if (!certFile || !keyFile) {
    process.stderr.write(
      'DASHBOARD_TLS_CERT and DASHBOARD_TLS_KEY must name the certificate and key files: TLS is on by default (DASHBOARD_TLS=off serves plain HTTP, for a TLS-terminating proxy in front)\n',
    );
    process.exit(2);
  }
  tls = { certFile, keyFile };
} else if (tlsMode !== 'off') {
  process.stderr.write(`DASHBOARD_TLS must be on or off, got ${tlsMode}\n`);
  process.exit(2);
}
function readTls() {
  return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
}
let tlsOptions;
try {
  tlsOptions = tls && readTls();
} catch (err) {
  process.stderr.write(`DASHBOARD_TLS_CERT/KEY: ${err.message}\n`);
  process.exit(2);
}

// Footage (the gateway), the fleet socket (the master) and live video (agents' wss://) are on
// other origins the dashboard learns at run time: any, but over TLS only.
const secure = tls ? ['https:', 'wss:'] : ['https:', 'wss:', 'http:', 'ws:'];
const headers = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      // Next writes its bootstrap data into inline scripts; the live player's decoder is WebAssembly.
      scriptSrc: ["'self'", "'unsafe-inline'", "'wasm-unsafe-eval'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:', 'blob:', ...secure.filter((s) => s.startsWith('http'))],
      mediaSrc: ["'self'", 'blob:', ...secure.filter((s) => s.startsWith('http'))],
      connectSrc: ["'self'", ...secure],
      workerSrc: ["'self'", 'blob:'],
      fontSrc: ["'self'", 'data:'],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      ...(tls ? { upgradeInsecureRequests: [] } : {}),
    },
  },
  strictTransportSecurity: tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  crossOriginEmbedderPolicy: false,
});

const app = next({ dev: false, dir: dirname(fileURLToPath(import.meta.url)), hostname, port });
await app.prepare();
const handle = app.getRequestHandler();

function serve(req, res) {
  const peerTrusted = trust(req.socket.remoteAddress ?? '', 0);
  req.headers['x-forwarded-for'] = proxyAddr(req, trust);
  if (!peerTrusted) {
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-proto'];
    delete req.headers['x-forwarded-port'];
  }
  headers(req, res, () => handle(req, res));
}
const server = tls ? createHttpsServer(tlsOptions, serve) : createHttpServer(serve);
if (tls) {
  // A renewed certificate is served to new connections without a restart.
  const mtimes = () => {
    try {
      return `${statSync(tls.certFile).mtimeMs}/${statSync(tls.keyFile).mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  let seen = mtimes();
  setInterval(() => {
    const now = mtimes();
    if (now === seen || now === 'missing') return;
    seen = now;
    try {
      server.setSecureContext(readTls());
      process.stdout.write('dashboard TLS certificate reloaded\n');
    } catch (err) {
      process.stderr.write(`dashboard TLS certificate changed but cannot be loaded: ${err.message}\n`);
    }
  }, 60_000).unref();
}
server.listen(port, hostname, () => {
  process.stdout.write(`dashboard listening on ${tls ? 'https' : 'http'}://${hostname}:${port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
