/**
 * Answers the agents' clock requests (protocol/src/clock.ts) straight from the message handler:
 * t1 is read as the request arrives, t2 just before the answer leaves, so queueing elsewhere in
 * the master never counts as network time. With an external broker the request is taken
 * through the shared subscription: one master of the group answers it. A bad request is
 * counted (`cctv_mqtt_messages_rejected_total{kind="time"}`), logged and dropped.
 */
import { parseNodeTopic, type TimeAnswer, topics, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { MasterMetrics } from '../metrics.ts';
import type { MessageBus } from '../mqtt/message-bus.ts';

export interface TimeResponderOptions {
  bus: MessageBus;
  metrics: Pick<MasterMetrics, 'mqttMessages' | 'mqttRejected'>;
  log: Logger;
  /** The master's wall clock in milliseconds. */
  now?: () => number;
}

export async function attachTimeResponder({
  bus,
  metrics,
  log,
  now = () => Date.now(),
}: TimeResponderOptions): Promise<void> {
  const reject = (reason: string, nodeId: string | null, detail: string) => {
    metrics.mqttRejected.inc({ kind: 'time', reason });
    log.warn({ nodeId, kind: 'time', reason, detail }, 'rejected node message');
  };
  await bus.subscribeShared(topics.all.time, (topic, payload) => {
    const t1 = now();
    const parsed = parseNodeTopic(topic);
    if (parsed?.kind !== 'time') return reject('bad_topic', null, topic);
    const request = validators.timeRequest.parse(payload);
    if (!request.ok) return reject('invalid_payload', parsed.nodeId, request.error);
    metrics.mqttMessages.inc({ kind: 'time' });
    const answer: TimeAnswer = { id: request.value.id, t0: request.value.t0, t1, t2: now() };
    // QoS 0: an answer that comes late is worthless; the agent asks again.
    bus
      .publish(topics.timeAnswer(parsed.nodeId), JSON.stringify(answer), { qos: 0 })
      .catch((err: Error) => log.warn({ nodeId: parsed.nodeId, err: err.message }, 'clock answer not sent'));
  });
}
