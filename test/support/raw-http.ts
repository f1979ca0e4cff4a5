/**
 * Raw HTTP requests for tests that play a client "elsewhere": a chosen loopback source address
 * (its own sign-in throttle), the path sent as written (no URL normalisation), a connection of
 * its own.
 */
import { request } from 'node:https';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen loopback address (a client "elsewhere"), raw path kept. */
export function send(
  url: string,
  opts: { method?: string; path: string; body?: unknown; headers?: Record<string, string>; from?: string },
): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method: opts.method ?? (body ? 'POST' : 'GET'),
        path: opts.path,
        localAddress: opts.from,
        // A connection of its own: an upgrade refused by the server ends its connection.
        agent: false,
        headers: {
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The `Cookie` header that carries back every cookie an answer set. */
export const cookiesOf = (a: Answer) =>
  ((a.headers['set-cookie'] as string[] | undefined) ?? []).map((c) => c.split(';')[0] ?? '').join('; ');
