/**
 * The agent started in-process with `startAgent`, as main.ts does: a file-managed config, the
 * simulated camera (ffmpeg's test source), a real MQTT broker and a gateway stand-in, every
 * server on a free port. It records, uploads and reports; a bad file on reload changes
 * nothing; `stop()` goes offline and leaves no ffmpeg and no listening port behind.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type StatusMessage, topics, validators } from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import { freePort, processAlive, tempDir, waitFor } from '../../test/support/index.ts';
import { startAgent } from '../src/agent.ts';
import { reloadCameras } from '../src/cameras/config-reload.ts';
import { loadConfigFile } from '../src/config.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { agentYaml } from './agent-yaml.ts';
import { startBroker } from './broker.ts';
import { startGatewayStandIn } from './gateway-stand-in.ts';
import { capturingLogger, listening } from './in-process.ts';

const NODE = 'inproc-node';
const CAMERA = `${NODE}-sim`;

describe('startAgent', () => {
  it('starts the parts in-process, reports, refuses a bad reload, and stops cleanly', async () => {
    const broker = await startBroker();
    const dir = await tempDir('agent-inproc-');
    const gateway = await startGatewayStandIn();
    const puts = gateway.uploads;
    const metricsPort = await freePort();
    const configPath = join(dir, 'agent.yaml');
    const yaml = agentYaml({ nodeId: NODE, mqttUrl: broker.url, gatewayUrl: gateway.url, dir }, [
      `httpPort: ${metricsPort}`,
      'live: { jsmpeg: { port: 0, host: "127.0.0.1" } }',
      // Recording only: detection would cost the shared test machine CPU and prove nothing here.
      'simulatedCamera: { width: 160, height: 90, fps: 5, detect: { enabled: false } }',
    ]);
    await writeFile(configPath, yaml);
    const config = loadConfigFile(configPath);

    const watcher = await mqtt.connectAsync(broker.url, { clientId: 'inproc-watcher', reconnectPeriod: 0 });
    after(() => watcher.endAsync(true));
    const seen: { topic: string; payload: unknown }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, payload: JSON.parse(payload.toString()) }));
    await watcher.subscribeAsync(topics.nodeTree(NODE), { qos: 1 });
    const of = (kind: 'status' | 'hello' | 'heartbeat') =>
      seen.filter((m) => m.topic === topics[kind](NODE)).map((m) => m.payload);

    const { logger, lines } = capturingLogger();
    const spoolCamera = join(dir, 'spool', CAMERA);
    // Should the test fail before stop(), its ffmpeg must not outlive it.
    after(() => reapStaleFfmpeg(spoolCamera, pino({ level: 'silent' })));
    const agent = await startAgent(config, { logger });
    let stopped = false;
    after(() => (stopped ? undefined : agent.stop()));
    const output = () => lines.join('').slice(-4000);

    assert.equal(agent.metricsPort, metricsPort);
    await waitFor('hello with the simulated camera', () => of('hello').length > 0, 20_000).catch((err) => {
      throw new Error(`${err.message}\n${output()}`);
    });
    const hello = validators.hello.validate(of('hello')[0]);
    assert.ok(hello.ok, hello.ok ? '' : hello.error);
    assert.deepEqual(
      hello.value.cameras.map((c) => c.id),
      [CAMERA],
    );
    await waitFor('a segment uploaded', () => puts.some((n) => n.endsWith('.m4s')), 30_000).catch((err) => {
      throw new Error(`${err.message}\n${output()}`);
    });
    await waitFor('a heartbeat with the camera recording', () =>
      of('heartbeat').some((h) => validators.heartbeat.check(h) && h.cameras[0]?.state === 'recording'),
    );
    const jsmpegPort = await waitFor('the live-view server listening', () => agent.jsmpegPort());
    assert.ok(await listening(jsmpegPort));
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`cctv_agent_camera_state\\{camera="${CAMERA}",state="recording"\\} 1`));
    assert.match(metrics, new RegExp(`cctv_agent_segments_uploaded_total\\{camera="${CAMERA}"\\} [1-9]`));

    // A reload of a file that no longer validates changes nothing.
    const pidFile = join(spoolCamera, 'ffmpeg.pid');
    const ffmpegPid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.ok(processAlive(ffmpegPid));
    await writeFile(configPath, `${yaml}segmentSeconds: 99\n`);
    await reloadCameras({ configPath, running: config, cameras: agent.cameras, logger });
    assert.match(output(), /reload refused: config invalid, nothing changed/);
    assert.equal(Number((await readFile(pidFile, 'utf8')).trim()), ffmpegPid);

    stopped = true;
    await agent.stop();
    await waitFor(
      'offline status',
      () => (of('status').at(-1) as StatusMessage | undefined)?.state === 'offline',
    );
    assert.equal((of('status')[0] as StatusMessage).state, 'online');
    assert.equal(processAlive(ffmpegPid), false, 'ffmpeg stopped with the agent');
    assert.equal(await listening(metricsPort), false, '/metrics closed');
    assert.equal(await listening(jsmpegPort), false, 'live view closed');
    assert.match(output(), /"msg":"agent stopped"/);
    const errors = lines.filter((l) => /"level":(50|60)/.test(l) && !/reload refused/.test(l));
    assert.deepEqual(errors, [], 'no errors logged but the refused reload');
  });
});
