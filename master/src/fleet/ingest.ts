import { type HeartbeatMessage, parseNodeTopic, topics, type Validator, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { MasterMetrics } from '../metrics.ts';
import type { MessageBus } from '../mqtt/message-bus.ts';
import { type FleetRegistry, UnknownNodeError } from './registry.ts';

type Kind = 'status' | 'hello' | 'heartbeat';

/**
 * Routes node messages from the bus to the registry. Every payload is validated with the
 * shared protocol validator; a bad one is logged with the node id, counted, and dropped.
 */
export async function attachFleetIngest(
  bus: MessageBus,
  registry: FleetRegistry,
  metrics: MasterMetrics,
  log: Logger,
  /** Told of every valid heartbeat (the desired-config sync reads the version it reports). */
  observers: { heartbeat?: (nodeId: string, msg: HeartbeatMessage) => void } = {},
): Promise<void> {
  const reject = (kind: Kind, reason: string, nodeId: string | null, detail: string) => {
    metrics.mqttRejected.inc({ kind, reason });
    log.warn({ nodeId, kind, reason, detail }, 'rejected node message');
  };

  const route = <T>(kind: Kind, validator: Validator<T>, apply: (nodeId: string, msg: T) => Promise<void>) =>
    // Each message is applied by one master of the group (docs/adr/0024); every master's
    // dashboards hear of the change through the cluster feed.
    bus.subscribeShared(topics.all[kind], (topic, payload) => {
      const parsed = parseNodeTopic(topic);
      if (!parsed || parsed.kind !== kind) return reject(kind, 'bad_topic', null, topic);
      // An empty retained payload clears a retained message; nothing to apply.
      if (kind === 'status' && payload.length === 0) return;
      const result = validator.parse(payload);
      if (!result.ok) return reject(kind, 'invalid_payload', parsed.nodeId, result.error);
      metrics.mqttMessages.inc({ kind });
      apply(parsed.nodeId, result.value).catch((err: Error) => {
        if (err instanceof UnknownNodeError) return reject(kind, 'unknown_node', parsed.nodeId, err.message);
        metrics.mqttRejected.inc({ kind, reason: 'store_failed' });
        log.error({ nodeId: parsed.nodeId, kind, err }, 'failed to apply node message');
      });
    });

  await route('status', validators.status, (n, m) => registry.status(n, m));
  await route('hello', validators.hello, (nodeId, m) => {
    if (m.nodeId !== nodeId) {
      reject('hello', 'node_mismatch', nodeId, `hello names node ${m.nodeId}`);
      return Promise.resolve();
    }
    return registry.hello(nodeId, m);
  });
  await route('heartbeat', validators.heartbeat, (n, m) => {
    observers.heartbeat?.(n, m);
    return registry.heartbeat(n, m);
  });
}
