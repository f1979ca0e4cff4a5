/**
 * An HTTP load client in a process of its own (so it does not share the measured server's event
 * loop): `concurrency` keep-alive connections, each sending GETs one after the other over the
 * given paths in turn, for `seconds`. Prints one JSON line: requests, bytes, non-2xx, latency p50/p99.
 * Usage: node --import tsx bench/support/http-load.ts '{"base":"https://…","paths":["/…"],"concurrency":16,"seconds":5}'
 */
import http from 'node:http';
import https from 'node:https';

interface Args {
  base: string;
  paths: string[];
  concurrency: number;
  seconds: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const { hostname, port, protocol } = new URL(args.base);
const { Agent, request } = protocol === 'https:' ? https : http;
const agent = new Agent({ keepAlive: true, maxSockets: args.concurrency });
const latencies: number[] = [];
let bytes = 0;
let failed = 0;
let next = 0;
const deadline = Date.now() + args.seconds * 1000;

function get(path: string): Promise<void> {
  const t = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, agent }, (res) => {
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) failed++;
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        resolve();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function worker(): Promise<void> {
  while (Date.now() < deadline) await get(args.paths[next++ % args.paths.length] as string);
}

await Promise.all(Array.from({ length: args.concurrency }, worker));
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, bytes, failed, p50: at(0.5), p99: at(0.99), seconds: args.seconds })}\n`,
);
agent.destroy();
