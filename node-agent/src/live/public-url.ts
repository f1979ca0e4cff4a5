import { networkInterfaces } from 'node:os';

/**
 * `ws://<this host's first external IPv4>:<port>`: where a browser on the LAN reaches a server
 * of the agent when no `publicUrl` is configured (loopback when the host has nothing else).
 */
export function publicWsUrl(port: number): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? [])
      if (a.family === 'IPv4' && !a.internal) return `ws://${a.address}:${port}`;
  return `ws://127.0.0.1:${port}`;
}
