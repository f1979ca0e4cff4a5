/**
 * A TCP proxy that slows one direction (client → server) to a byte rate, standing in for a
 * slow uplink between a camera host and the gateway. It tells how many requests are being
 * sent right now, so a test can cut an upload in the middle.
 */
import { createServer, Socket } from 'node:net';
import { freePort, onCleanup } from './index.ts';

export interface ThrottleProxy {
  url: string;
  port: number;
  /** Bytes per second from client to server; 0 = unlimited. */
  setRate(bytesPerSecond: number): void;
  /** Connections that have sent request bytes and had no answer yet. */
  activeUploads(): number;
  /** The most request bytes forwarded on one connection since its last answer. */
  bytesThisUpload(): number;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  server: Socket;
  sentSinceAnswer: number;
}

export async function startThrottleProxy(opts: {
  target: number;
  bytesPerSecond: number;
}): Promise<ThrottleProxy> {
  let rate = opts.bytesPerSecond;
  const links = new Set<Link>();
  const tickMs = 50;
  const proxy = createServer((client) => {
    const server = new Socket();
    const link: Link = { client, server, sentSinceAnswer: 0 };
    links.add(link);
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | null = null;
    const pump = () => {
      let budget = rate === 0 ? Number.POSITIVE_INFINITY : Math.max(1, Math.round((rate * tickMs) / 1000));
      while (budget > 0 && queue.length > 0) {
        const head = queue[0] as Buffer;
        const part = head.length <= budget ? head : head.subarray(0, budget);
        if (part.length === head.length) queue.shift();
        else queue[0] = head.subarray(budget);
        budget -= part.length;
        link.sentSinceAnswer += part.length;
        server.write(part);
      }
      if (queue.length === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    };
    client.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      if (rate === 0) pump();
      else timer ??= setInterval(pump, tickMs);
    });
    server.on('data', (chunk: Buffer) => {
      link.sentSinceAnswer = 0;
      client.write(chunk);
    });
    const close = () => {
      if (timer) clearInterval(timer);
      links.delete(link);
      client.destroy();
      server.destroy();
    };
    client.on('close', close);
    server.on('close', close);
    client.on('error', close);
    server.on('error', close);
    server.connect(opts.target, '127.0.0.1');
  });
  const port = await freePort();
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const l of links) {
        l.client.destroy();
        l.server.destroy();
      }
      proxy.close(() => resolve());
    });
  onCleanup(close);
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    setRate: (r) => {
      rate = r;
    },
    activeUploads: () => [...links].filter((l) => l.sentSinceAnswer > 0).length,
    bytesThisUpload: () => Math.max(0, ...[...links].map((l) => l.sentSinceAnswer)),
    close,
  };
}
