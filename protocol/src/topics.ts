import { isValidId } from './ids.ts';

export const PROTOCOL_VERSION = 1;
export const TOPIC_PREFIX = 'cctv/v1';

const nodeBase = (nodeId: string) => `${TOPIC_PREFIX}/nodes/${nodeId}`;

/** The `cmd/{name}` name of a clock answer; never a command's name. */
export const TIME_ANSWER_NAME = 'time';

export const topics = {
  status: (nodeId: string) => `${nodeBase(nodeId)}/status`,
  hello: (nodeId: string) => `${nodeBase(nodeId)}/hello`,
  heartbeat: (nodeId: string) => `${nodeBase(nodeId)}/heartbeat`,
  events: (nodeId: string) => `${nodeBase(nodeId)}/events`,
  cmd: (nodeId: string, name: string) => `${nodeBase(nodeId)}/cmd/${name}`,
  reply: (nodeId: string, reqId: string) => `${nodeBase(nodeId)}/reply/${reqId}`,
  /** A clock measurement's request, from the agent (protocol/src/clock.ts). */
  time: (nodeId: string) => `${nodeBase(nodeId)}/time`,
  /**
   * The master's answer to it, on the command channel: the one a node already reads, so the
   * brokers' ACLs carry it unchanged. The agent takes it apart from its commands.
   */
  timeAnswer: (nodeId: string) => `${nodeBase(nodeId)}/cmd/${TIME_ANSWER_NAME}`,
  /** What an agent subscribes to for its commands: `cctv/v1/nodes/{node}/cmd/+`. */
  cmdFilter: (nodeId: string) => `${nodeBase(nodeId)}/cmd/+`,
  /** Everything a node publishes or receives: `cctv/v1/nodes/{node}/#`. */
  nodeTree: (nodeId: string) => `${nodeBase(nodeId)}/#`,
  /** Subscription filters for the master, one per message kind. */
  all: {
    status: `${TOPIC_PREFIX}/nodes/+/status`,
    hello: `${TOPIC_PREFIX}/nodes/+/hello`,
    heartbeat: `${TOPIC_PREFIX}/nodes/+/heartbeat`,
    events: `${TOPIC_PREFIX}/nodes/+/events`,
    reply: `${TOPIC_PREFIX}/nodes/+/reply/+`,
    time: `${TOPIC_PREFIX}/nodes/+/time`,
  },
} as const;

export type NodeTopicKind = 'status' | 'hello' | 'heartbeat' | 'events' | 'time' | 'cmd' | 'reply';

export interface ParsedTopic {
  nodeId: string;
  kind: NodeTopicKind;
  /** The command name for `cmd`, the request id for `reply`. */
  arg?: string;
}

/** Parses a node topic; null when it is not one (wrong prefix, bad node id, unknown kind). */
export function parseNodeTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts.length < 5 || `${parts[0]}/${parts[1]}` !== TOPIC_PREFIX || parts[2] !== 'nodes') return null;
  const nodeId = parts[3] ?? '';
  const kind = parts[4] ?? '';
  if (!isValidId(nodeId)) return null;
  if (
    parts.length === 5 &&
    (kind === 'status' || kind === 'hello' || kind === 'heartbeat' || kind === 'events' || kind === 'time')
  )
    return { nodeId, kind };
  if (parts.length === 6 && (kind === 'cmd' || kind === 'reply') && parts[5])
    return { nodeId, kind, arg: parts[5] };
  return null;
}
