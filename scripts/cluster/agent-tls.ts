/**
 * The local agent speaks TLS to the master and the gateway, pinned to the cluster's CA, and
 * serves its live view over wss:// with its own certificate. A config written by an earlier
 * start (clear-text URLs to this host) is moved over; anything else an operator set is kept.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';

export interface AgentTls {
  mqttsUrl: string;
  gatewayUrl: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

const LOCAL_PLAIN = /^(mqtt|tcp|http):\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/;

/** Returns true when the config changed. */
export async function ensureAgentTls(configPath: string, tls: AgentTls): Promise<boolean> {
  const before = await readFile(configPath, 'utf8');
  const doc = parseDocument(before);
  const mqttUrl = doc.getIn(['mqtt', 'url']);
  if (typeof mqttUrl !== 'string' || LOCAL_PLAIN.test(mqttUrl)) doc.setIn(['mqtt', 'url'], tls.mqttsUrl);
  const gatewayUrl = doc.getIn(['gateway', 'url']);
  if (typeof gatewayUrl !== 'string' || LOCAL_PLAIN.test(gatewayUrl))
    doc.setIn(['gateway', 'url'], tls.gatewayUrl);
  for (const [key, file] of [
    ['ca', tls.caFile],
    ['cert', tls.certFile],
    ['key', tls.keyFile],
  ] as const)
    if (!doc.hasIn(['tls', key])) doc.setIn(['tls', key], file);
  const after = doc.toString();
  if (after === before) return false;
  await writeFile(configPath, after, { mode: 0o600 });
  await chmod(configPath, 0o600);
  return true;
}
