/**
 * Who may publish and subscribe what on the embedded broker. Pure functions: each answers
 * null (allowed) or the reason of a refusal, which becomes a metric label and a log field.
 */
import { parseNodeTopic, TOPIC_PREFIX, topics } from '@cctv/protocol';

/** A connected client as authentication established it. */
export type MqttIdentity =
  /** An agent: username = node id, client id `agent-<nodeId>`. */
  | { kind: 'node'; nodeId: string }
  /** A tool or dashboard from `MQTT_SERVICE_ACCOUNTS`: reads node topics, sends commands. */
  | { kind: 'service'; name: string };

export type AclRefusal =
  /** A topic of another node. */
  | 'foreign_node'
  /** A node publishing a command (commands go to nodes, never from them). */
  | 'command_topic'
  /** A node subscribing to anything but its own commands. */
  | 'not_own_commands'
  /** A service account publishing anything but a command. */
  | 'read_only'
  /** Outside `cctv/v1/nodes/…` altogether. */
  | 'outside_node_tree'
  /** `MQTT_AUTH=off`: an `agent-<nodeId>` client outside its prefix. */
  | 'outside_prefix';

const NODE_TREE = `${TOPIC_PREFIX}/nodes/`;

export function publishRefusal(who: MqttIdentity, topic: string): AclRefusal | null {
  const parsed = parseNodeTopic(topic);
  if (!parsed) return 'outside_node_tree';
  if (who.kind === 'service') return parsed.kind === 'cmd' ? null : 'read_only';
  if (parsed.nodeId !== who.nodeId) return 'foreign_node';
  return parsed.kind === 'cmd' ? 'command_topic' : null;
}

export function subscribeRefusal(who: MqttIdentity, filter: string): AclRefusal | null {
  if (who.kind === 'service') {
    // Any filter inside the node tree, wildcards included; nothing outside it, no `$share`.
    const levels = filter.split('/');
    return filter.startsWith(NODE_TREE) && levels.length > 3 ? null : 'outside_node_tree';
  }
  if (filter === topics.cmdFilter(who.nodeId)) return null;
  const parsed = filter.includes('+') || filter.includes('#') ? null : parseNodeTopic(filter);
  if (parsed?.kind === 'cmd' && parsed.nodeId === who.nodeId) return null;
  if (!filter.startsWith(NODE_TREE)) return 'outside_node_tree';
  return filter.startsWith(`${NODE_TREE}${who.nodeId}/`) ? 'not_own_commands' : 'foreign_node';
}

/**
 * `MQTT_AUTH=off` (the behaviour before authentication): a client calling itself
 * `agent-<nodeId>` may publish only under its own prefix and never a command; others anything.
 */
export function unauthenticatedPublishRefusal(clientId: string, topic: string): AclRefusal | null {
  if (!clientId.startsWith('agent-')) return null;
  const parsed = parseNodeTopic(topic);
  if (!parsed || parsed.nodeId !== clientId.slice('agent-'.length)) return 'outside_prefix';
  return parsed.kind === 'cmd' ? 'command_topic' : null;
}
