/** Agent config files for tests. */
import { join } from 'node:path';

export interface AgentYaml {
  nodeId: string;
  mqttUrl: string;
  gatewayUrl: string;
  /** Spool and state go under it. */
  dir: string;
}

/**
 * What every agent test's config has: the node, its broker and gateway, the spool and state
 * under `dir`, a heartbeat every second, and the live-view server on any free port (never the
 * fixed default: another agent or test may hold it). `extra` lines follow.
 */
export function agentYaml(o: AgentYaml, extra: string[] = []): string {
  return [
    `nodeId: ${o.nodeId}`,
    `mqtt: { url: "${o.mqttUrl}" }`,
    `gateway: { url: "${o.gatewayUrl}" }`,
    `spool: { dir: "${join(o.dir, 'spool')}" }`,
    `stateDir: "${join(o.dir, 'state')}"`,
    'heartbeatIntervalS: 1',
    ...extra,
    '',
  ].join('\n');
}
