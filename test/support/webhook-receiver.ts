/**
 * A webhook receiver for alert tests: a plain HTTP server on a free port that checks every
 * request's signature as docs/operations.md tells receivers to, answers `status` (503 while it
 * plays "down"), and keeps the notifications it accepted.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AlertNotification, notificationValidators } from '@cctv/protocol';
import { onCleanup } from './index.ts';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  notification: AlertNotification;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  /** Accepted notifications, oldest first. */
  got: ReceivedWebhook[];
  /** Requests of any kind, refused ones included. */
  attempts(): number;
  /** The body of every correctly signed request by its `X-CCTV-Delivery`, refused ones included. */
  bodies: Map<string, string[]>;
  /** Requests whose signature did not verify (none, in a passing test). */
  badSignatures(): number;
  setStatus(status: number): void;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const got: ReceivedWebhook[] = [];
  let status = 200;
  let attempts = 0;
  let bad = 0;
  const bodies = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = String(req.headers['x-cctv-timestamp']);
      const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      if (req.headers['x-cctv-signature'] !== expected) {
        bad++;
        res.writeHead(401).end('bad signature');
        return;
      }
      const key = String(req.headers['x-cctv-delivery']);
      bodies.set(key, [...(bodies.get(key) ?? []), body]);
      if (status !== 200) {
        res.writeHead(status).end('down');
        return;
      }
      const notification = JSON.parse(body) as AlertNotification;
      assert.ok(notificationValidators.alertNotification.check(notification), body);
      got.push({ headers: req.headers, body, notification, at: Date.now() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => server.close(() => r())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    attempts: () => attempts,
    bodies,
    badSignatures: () => bad,
    setStatus: (s) => {
      status = s;
    },
  };
}
