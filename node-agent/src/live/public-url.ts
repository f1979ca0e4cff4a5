import { networkInterfaces } from 'node:os';

/**
 * `ws://<this host's first external IPv4>:<port>` (`wss://` for a server with a certificate):
 * where a browser on the LAN reaches a server of the agent when no `publicUrl` is configured
 * (loopback when the host has nothing else).
 */
export function publicWsUrl(port: number, secure = false): string {
  const scheme = secure ? 'wss' : 'ws';
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? [])
      if (a.family === 'IPv4' && !a.internal) return `${scheme}://${a.address}:${port}`;
  return `${scheme}://127.0.0.1:${port}`;
}
