/** A storage gateway stand-in for agent tests: takes every PUT (201) and notes the file names. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onCleanup } from '../../test/support/index.ts';

export interface GatewayStandIn {
  url: string;
  /** The names of the files uploaded, in order. */
  uploads: string[];
}

/** Listens on a free loopback port until the test file ends. */
export async function startGatewayStandIn(): Promise<GatewayStandIn> {
  const uploads: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      uploads.push(decodeURIComponent(req.url?.split('/').at(-1) ?? ''));
      res.writeHead(201).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, uploads };
}
