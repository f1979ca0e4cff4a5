/**
 * A live-view port the agent cannot open takes down live view, not the agent: with its jsmpeg
 * port held by another program, the agent (main.ts, its own process) records and uploads the
 * simulated camera, reports live view unavailable (heartbeat, metric, one warning) and refuses
 * `jsmpeg-open`; once the port is free it listens there within its retry period.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CommandReply, type HeartbeatMessage, topics, validators } from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import WebSocket from 'ws';
import { freePort, startService, tempDir, waitFor } from '../../test/support/index.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { startBroker } from './broker.ts';
import { startGatewayStandIn } from './gateway-stand-in.ts';

const NODE = 'live-busy';
const CAMERA = `${NODE}-sim`;

describe('agent whose jsmpeg port is taken', { timeout: 120_000 }, () => {
  it('records and uploads, reports live view unavailable, and serves it once the port is free', async (t) => {
    const broker = await startBroker();
    const dir = await tempDir('agent-live-busy-');
    const gateway = await startGatewayStandIn();
    const uploads = gateway.uploads;
    // Another program holds the port the agent's jsmpeg server is configured on.
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const livePort = (blocker.address() as AddressInfo).port;
    let freed: Promise<void> | null = null;
    const free = () => {
      freed ??= new Promise<void>((r) => blocker.close(() => r()));
      return freed;
    };
    after(free);
    const metricsPort = await freePort();
    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      [
        `nodeId: ${NODE}`,
        `mqtt: { url: "${broker.url}" }`,
        `gateway: { url: "${gateway.url}" }`,
        `spool: { dir: "${join(dir, 'spool')}", minFreeBytes: 0 }`,
        `stateDir: "${join(dir, 'state')}"`,
        'heartbeatIntervalS: 1',
        'segmentSeconds: 2',
        `httpPort: ${metricsPort}`,
        // Fast retries, so the recovery shows within a second instead of up to a minute.
        `live: { jsmpeg: { host: 127.0.0.1, port: ${livePort}, retryInitialMs: 200, retryMaxMs: 400 } }`,
        // Recording and live view are what this is about; detection would only cost CPU.
        'simulatedCamera: { detect: { enabled: false } }',
      ].join('\n'),
    );

    const watcher = await mqtt.connectAsync(broker.url, {
      clientId: 'live-busy-watcher',
      reconnectPeriod: 0,
    });
    after(() => watcher.endAsync(true));
    const heartbeats: { at: number; beat: HeartbeatMessage }[] = [];
    const replies = new Map<string, CommandReply>();
    watcher.on('message', (topic, payload) => {
      const doc = JSON.parse(payload.toString()) as unknown;
      if (topic === topics.heartbeat(NODE)) {
        const checked = validators.heartbeat.validate(doc);
        assert.ok(checked.ok, checked.ok ? '' : checked.error);
        heartbeats.push({ at: Date.now(), beat: checked.value });
      } else if (validators.commandReply.check(doc)) replies.set(doc.reqId, doc);
    });
    await watcher.subscribeAsync(topics.nodeTree(NODE), { qos: 1 });
    const jsmpegOpen = async (reqId: string) => {
      await watcher.publishAsync(
        topics.cmd(NODE, 'jsmpeg-open'),
        JSON.stringify({ reqId, args: { camera: CAMERA } }),
        { qos: 1 },
      );
      return waitFor(`reply ${reqId}`, () => replies.get(reqId), 10_000);
    };
    const metric = async (name: string, labels: string) => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const latest = () => heartbeats.at(-1)?.beat;

    const agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
    after(() => reapStaleFfmpeg(join(dir, 'spool', CAMERA), pino({ level: 'silent' })));
    const withOutput = (err: Error) => {
      throw new Error(`${err.message}\n${agent.output().slice(-6000)}`);
    };

    // Port taken: the agent runs, records and uploads, and says live view is unavailable.
    await waitFor(
      'segments recorded while the live port is taken',
      () => (latest()?.cameras[0]?.segmentsRecorded ?? 0) >= 2,
      60_000,
    ).catch(withOutput);
    await waitFor('segments uploaded', () => uploads.filter((n) => n.endsWith('.m4s')).length >= 1, 20_000);
    assert.match(agent.output(), /"msg":"agent running"/);
    assert.doesNotMatch(agent.output(), /agent failed to start/);
    assert.deepEqual(latest()?.live, {
      jsmpeg: 'unavailable',
      webrtc: 'ok',
      reason: `jsmpeg: port ${livePort} in use`,
    });
    assert.equal(await metric('cctv_agent_live_available', 'kind="jsmpeg"'), 0);
    assert.equal(await metric('cctv_agent_live_available', 'kind="webrtc"'), 1);
    await waitFor(
      'several failed listen attempts',
      async () => ((await metric('cctv_agent_live_listen_failures_total', 'kind="jsmpeg"')) ?? 0) >= 4,
    );
    // One warning, not one per attempt.
    const warnings = agent.output().match(/jsmpeg live server cannot listen/g) ?? [];
    assert.equal(warnings.length, 1, 'the first failure is logged once');
    assert.doesNotMatch(agent.output(), /still cannot listen/, 'retries are not logged each');
    // No ticket for a server that is not listening.
    const refused = await jsmpegOpen('open-busy');
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.code, 'LIVE_UNAVAILABLE');
    assert.match(refused.error?.message ?? '', new RegExp(`port ${livePort} in use`));

    // Port free: within the retry period the server listens there and live view is back.
    const segmentsBefore = latest()?.cameras[0]?.segmentsRecorded ?? 0;
    await free();
    const freedAt = Date.now();
    await waitFor(
      'a heartbeat with jsmpeg ok',
      () => heartbeats.some((h) => h.at > freedAt && h.beat.live?.jsmpeg === 'ok'),
      10_000,
    ).catch(withOutput);
    const recoveredMs = Date.now() - freedAt;
    assert.deepEqual(latest()?.live, { jsmpeg: 'ok', webrtc: 'ok' });
    assert.equal(await metric('cctv_agent_live_available', 'kind="jsmpeg"'), 1);
    assert.match(agent.output(), /live view available again/);
    const opened = await jsmpegOpen('open-free');
    assert.equal(opened.ok, true, JSON.stringify(opened.error));
    const url = new URL((opened.result as { url: string }).url);
    assert.equal(url.port, String(livePort), 'the bound port is the one published');
    // The published host is this machine's LAN address; the server listens on loopback here.
    const ws = new WebSocket(`ws://127.0.0.1:${livePort}${url.pathname}${url.search}`);
    after(() => ws.terminate());
    let received = 0;
    ws.on('message', (data: Buffer) => {
      received += data.length;
    });
    await waitFor('live video from the recovered server', () => received >= 5 * 188, 20_000);
    ws.close();
    await waitFor(
      'recording went on throughout',
      () => (latest()?.cameras[0]?.segmentsRecorded ?? 0) > segmentsBefore,
      20_000,
    );
    assert.equal(latest()?.cameras[0]?.state, 'recording');
    t.diagnostic(`live view back ${recoveredMs} ms after the port was freed (heartbeat every 1 s)`);

    const exit = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
    await agent.kill('SIGTERM');
    assert.equal(await exit, 0, agent.output());
    assert.doesNotMatch(agent.output(), /"level":(50|60)/, 'no errors logged');
  });
});
