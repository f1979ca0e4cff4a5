import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type HeartbeatMessage, type StatusMessage, topics, validators } from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import { freePort, startService, tempDir, waitFor } from '../../test/support/index.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { startBroker } from './broker.ts';

describe('agent process (main.ts) end to end', () => {
  it('records the simulated camera, uploads, reports over MQTT, exits 0 on SIGTERM with offline status', async () => {
    const broker = await startBroker();
    const dir = await tempDir('agent-e2e-');
    // The gateway stand-in takes everything; the agent must send its upload token with each PUT.
    const token = 'e2e-node-upload-token-0123456789';
    const puts: { name: string; status: number; authorization?: string }[] = [];
    const gateway = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const name = decodeURIComponent(req.url?.split('/').at(-1) ?? '');
        puts.push({
          name,
          status: 201,
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        });
        res.writeHead(201).end('{}');
      });
    });
    const gwPort = await freePort();
    await new Promise<void>((r) => gateway.listen(gwPort, '127.0.0.1', r));
    after(() => new Promise<void>((r) => gateway.close(() => r())));
    const metricsPort = await freePort();
    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      [
        'nodeId: e2e-node',
        `mqtt: { url: "${broker.url}" }`,
        `gateway: { url: "http://127.0.0.1:${gwPort}", token: "${token}" }`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        `stateDir: "${join(dir, 'state')}"`,
        'heartbeatIntervalS: 1',
        'segmentSeconds: 2',
        `httpPort: ${metricsPort}`,
        // Never the fixed default live port: another agent or test may hold it.
        'live: { jsmpeg: { port: 0 } }',
      ].join('\n'),
    );

    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'e2e-watcher', reconnectPeriod: 0 });
    after(() => watcher.endAsync(true));
    const seen: { topic: string; payload: string }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await watcher.subscribeAsync(topics.nodeTree('e2e-node'), { qos: 1 });

    const agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
    // Should the agent be killed hard on a failure, its ffmpeg must not outlive the test.
    after(() => reapStaleFfmpeg(join(dir, 'spool', 'e2e-node-sim'), pino({ level: 'silent' })));
    const of = (kind: 'status' | 'hello' | 'heartbeat' | 'events') =>
      seen.filter((m) => m.topic === topics[kind]('e2e-node')).map((m) => JSON.parse(m.payload) as unknown);

    await waitFor('hello', () => of('hello').length > 0, 20_000).catch((err) => {
      throw new Error(`${err.message}\n${agent.output()}`);
    });
    const hello = validators.hello.validate(of('hello')[0]);
    assert.ok(hello.ok, hello.ok ? '' : hello.error);
    assert.equal(hello.value.cameras[0]?.id, 'e2e-node-sim');
    assert.equal(hello.value.cameras[0]?.recording.mode, 'transcode');

    await waitFor(
      'two segments uploaded',
      () => puts.filter((p) => p.name.endsWith('.m4s')).length >= 2,
      20_000,
    );
    const segmentPuts = puts.filter((p) => !p.name.endsWith('.jpg'));
    assert.match(segmentPuts[0]?.name ?? '', /^init-[0-9a-f]{16}\.mp4$/);
    // The test pattern moves: detection runs on the simulated camera too, and its events are valid.
    await waitFor('a motion event', () => of('events').length > 0, 20_000);
    const event = validators.event.validate(of('events')[0]);
    assert.ok(event.ok, event.ok ? '' : event.error);
    assert.equal(event.value.cameraId, 'e2e-node-sim');
    await waitFor('its snapshot uploaded', () => puts.some((p) => p.name === `${event.value.id}-0.jpg`));
    assert.deepEqual(
      puts.filter((p) => p.authorization !== `Bearer ${token}`),
      [],
      'segments, init files and snapshots all carry the token',
    );
    await waitFor('a heartbeat with a recording camera', () =>
      of('heartbeat').some((h) => validators.heartbeat.check(h) && h.cameras[0]?.state === 'recording'),
    );
    // Live view is up: the jsmpeg server listens on the port it was given (0: any free one).
    assert.deepEqual((of('heartbeat').at(-1) as HeartbeatMessage).live, { jsmpeg: 'ok', webrtc: 'ok' });
    // A malformed command is refused, answered and counted; the agent carries on.
    await watcher.publishAsync(topics.cmd('e2e-node', 'config'), '{"reqId":"bad-1","args":', { qos: 1 });
    await watcher.publishAsync(topics.cmd('e2e-node', 'no-such'), '{"reqId":"bad-2"}', { qos: 1 });
    await waitFor('unknown command answered', () =>
      seen.some((m) => m.topic === topics.reply('e2e-node', 'bad-2')),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /cctv_agent_commands_rejected_total\{reason="BAD_REQUEST"\} 1/);
    assert.match(metrics, /cctv_agent_commands_rejected_total\{reason="UNKNOWN_COMMAND"\} 1/);
    assert.match(metrics, /cctv_agent_segments_uploaded_total\{camera="e2e-node-sim"\} [1-9]/);
    assert.match(metrics, /cctv_agent_camera_state\{camera="e2e-node-sim",state="recording"\} 1/);
    assert.match(metrics, /cctv_agent_live_available\{kind="jsmpeg"\} 1/);
    assert.match(metrics, /cctv_agent_live_listen_failures_total\{kind="jsmpeg"\} 0/);

    const exit = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
    await agent.kill('SIGTERM');
    assert.equal(await exit, 0, agent.output());
    const statuses = of('status') as StatusMessage[];
    assert.equal(statuses[0]?.state, 'online');
    assert.equal(statuses.at(-1)?.state, 'offline');
    assert.match(agent.output(), /"msg":"agent stopped"/);
    assert.doesNotMatch(agent.output(), /"level":(50|60)/, 'no errors logged');
  });
});
