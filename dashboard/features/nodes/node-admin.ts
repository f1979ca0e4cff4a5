/**
 * The nodes page's pure parts: what went wrong on a node lately (from its heartbeat and its
 * config status), and the blocks an admin pastes after enrolling one: the agent's YAML and the
 * Ansible host_vars of the node_agent role. The credentials are shown this once.
 */
import type { NodeEnrolment, NodeView } from '@cctv/protocol';

/** Columns of the nodes table; a row of new credentials spans them all. */
export const NODE_ADMIN_COLUMNS = 7;

/** One line per problem: failing cameras and why, a refused configuration, live view trouble. */
export function nodeProblems(node: NodeView): string[] {
  const out: string[] = [];
  const hb = node.heartbeat;
  for (const c of hb?.cameras ?? [])
    if (c.state === 'failed' || c.state === 'reconnecting')
      out.push(`camera ${c.id} ${c.state}${c.reason ? `: ${c.reason}` : ''}`);
  const failed = hb?.config?.failed;
  if (failed) out.push(`config v${failed.version} refused: ${failed.reason}`);
  else if (node.config.sync === 'failed' && node.config.reason) out.push(`config: ${node.config.reason}`);
  if (hb?.live?.reason) out.push(`live view: ${hb.live.reason}`);
  return out;
}

/** `v3`, `—` for none. */
const version = (v: number | null) => (v === null ? '—' : `v${v}`);

/** "desired v4 · applied v3" as the config column shows it. */
export function configVersions(node: NodeView): string {
  return `desired ${version(node.config.desiredVersion)} · applied ${version(node.config.appliedVersion)}`;
}

/** `in_sync` → `in sync`. */
export const syncLabel = (sync: NodeView['config']['sync']): string => sync.replaceAll('_', ' ');

/** Where agents reach the broker and the gateway, guessed from the master's public host. */
export interface AgentUrls {
  mqttUrl: string;
  gatewayUrl: string;
}

/** The default ports of the Ansible roles on the master's host; the admin checks them. */
export function defaultAgentUrls(masterPublicUrl: string): AgentUrls {
  let host = 'master.example';
  try {
    host = new URL(masterPublicUrl).hostname || host;
  } catch {
    // keep the placeholder
  }
  // URL's hostname keeps an IPv6 address in its brackets, as a URL needs it.
  return { mqttUrl: `mqtts://${host}:8883`, gatewayUrl: `https://${host}:8090` };
}

// The secrets are base64url (no quoting needed); the quotes keep YAML from reading one as a number.
const q = (s: string) => `"${s}"`;

/** The lines of the agent's `agent.yaml` for this enrolment. */
export function agentYaml(e: NodeEnrolment, urls: AgentUrls): string {
  return [
    `nodeId: ${e.nodeId}`,
    'mqtt:',
    `  url: ${urls.mqttUrl}`,
    `  username: ${e.username}`,
    `  password: ${q(e.password)}`,
    'gateway:',
    `  url: ${urls.gatewayUrl}`,
    `  token: ${q(e.uploadToken)}`,
  ].join('\n');
}

/** `host_vars/<host>.yml` for deploy/ansible's node_agent role (keep it in a vault). */
export function ansibleHostVars(e: NodeEnrolment): string {
  return [
    `# host_vars/<host>.yml: encrypt with ansible-vault`,
    `node_agent_node_id: ${e.nodeId}`,
    `node_agent_mqtt_password: ${q(e.password)}`,
    `node_agent_upload_token: ${q(e.uploadToken)}`,
  ].join('\n');
}
