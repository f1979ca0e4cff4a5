/**
 * `cmd/restart` against the agent's own process (main.ts), a real broker and a gateway stand-in:
 * the agent answers ok, goes offline as on SIGTERM, and exits with RESTART_EXIT_CODE, which its
 * supervisor (systemd, `npm start`) reads as "start me again".
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import { startService, tempDir, waitFor } from '../../test/support/index.ts';
import { RESTART_EXIT_CODE } from '../src/link/restart-command.ts';
import { agentYaml } from './agent-yaml.ts';
import { startBroker } from './broker.ts';
import { startGatewayStandIn } from './gateway-stand-in.ts';

const NODE = 'restart-node';

describe('restart command', () => {
  it('answers, goes offline and exits for its supervisor to start it again', async () => {
    const broker = await startBroker();
    const gateway = await startGatewayStandIn();
    const dir = await tempDir('agent-restart-');
    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      agentYaml({ nodeId: NODE, mqttUrl: broker.url, gatewayUrl: gateway.url, dir }, [
        'live: { jsmpeg: { port: 0, host: "127.0.0.1" } }',
        'simulatedCamera: { width: 160, height: 90, fps: 5, detect: { enabled: false } }',
      ]),
    );
    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'restart-watcher', reconnectPeriod: 0 });
    after(() => watcher.endAsync(true));
    const seen: { topic: string; payload: Record<string, unknown> }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, payload: JSON.parse(payload.toString()) }));
    await watcher.subscribeAsync(topics.nodeTree(NODE), { qos: 1 });
    const statuses = () => seen.filter((m) => m.topic === topics.status(NODE)).map((m) => m.payload.state);

    const agent = startService('node-agent/src/main.ts', {}, ['--config', configPath]);
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', (code) => resolve(code)));
    await waitFor('the agent online', () => statuses().includes('online'), 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.output().slice(-3000)}`);
    });

    const reqId = randomUUID();
    await watcher.publishAsync(
      topics.cmd(NODE, 'restart'),
      JSON.stringify({ reqId, sentAt: new Date().toISOString(), timeoutMs: 10_000 }),
      { qos: 1 },
    );
    const reply = await waitFor(
      'the reply',
      () => seen.find((m) => m.topic === topics.reply(NODE, reqId)),
      10_000,
    );
    assert.equal(reply.payload.ok, true, JSON.stringify(reply.payload));
    assert.equal((reply.payload.result as { restarting?: boolean }).restarting, true);
    assert.equal(await exited, RESTART_EXIT_CODE, agent.output().slice(-3000));
    assert.equal(statuses().at(-1), 'offline', 'it said offline before leaving');
    assert.match(agent.output(), /agent stopped/);
  });
});
