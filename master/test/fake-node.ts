/** A node stood in for by a raw MQTT client: it answers its commands as the test says. */
import type { CommandReply, CommandRequest } from '@cctv/protocol';
import { topics } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { enrolTestNode } from '../../test/support/enrol.ts';
import { onCleanup, waitFor } from '../../test/support/index.ts';
import type { ApiSession } from '../../test/support/session.ts';
import type { EventHarness } from './event-harness.ts';

/**
 * A node, enrolled and online, that answers its commands as `answer` says (or not at all, when it
 * returns null); `received` lists each command as `name:args`.
 */
export async function fakeNode(
  h: EventHarness,
  nodeId: string,
  answer: (name: string, req: CommandRequest) => Omit<CommandReply, 'reqId' | 'command' | 'at'> | null,
): Promise<{ client: MqttClient; received: string[] }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.master.mqttPort}`, {
    clientId: `agent-${nodeId}`,
    username: nodeId,
    password: await enrolTestNode(h.master.databaseUrl, nodeId),
    reconnectPeriod: 0,
  });
  onCleanup(() => client.endAsync(true));
  const received: string[] = [];
  await client.subscribeAsync(topics.cmdFilter(nodeId), { qos: 1 });
  client.on('message', (topic, payload) => {
    const name = topic.split('/').at(-1) ?? '';
    const req = JSON.parse(payload.toString()) as CommandRequest;
    received.push(`${name}:${JSON.stringify(req.args ?? {})}`);
    const body = answer(name, req);
    if (!body) return;
    const reply: CommandReply = { reqId: req.reqId, command: name, at: new Date().toISOString(), ...body };
    void client.publishAsync(topics.reply(nodeId, req.reqId), JSON.stringify(reply), { qos: 1 });
  });
  await client.publishAsync(
    topics.status(nodeId),
    JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: '1.0.0' }),
    { qos: 1, retain: true },
  );
  return { client, received };
}

/** Resolves once the API shows the node online. */
export async function waitOnline(s: ApiSession, nodeId: string): Promise<void> {
  await waitFor(`${nodeId} online`, async () => {
    const r = await s.fetch(`/api/nodes/${nodeId}`);
    return r.ok && ((await r.json()) as { state: string }).state === 'online';
  });
}
