/**
 * Cameras changed at run time, the agent running as its own process against a real RTSP
 * server. A master-managed node takes `cmd/config` lists with their version, keeps the last one
 * to start with, and reports the version (or the refusal) in its heartbeat; a file-managed node
 * refuses pushed lists and follows its file on SIGHUP. Cameras that did not change keep their
 * ffmpeg; the others start, restart or stop.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  type CommandReply,
  type HeartbeatMessage,
  type HelloMessage,
  topics,
  validators,
} from '@cctv/protocol';
import mqtt from 'mqtt';
import pino from 'pino';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  tempDir,
  waitFor,
} from '../../test/support/index.ts';
import {
  ensureRtspServerAvailable,
  type RtspServer,
  startRtspServer,
} from '../../test/support/rtsp-server.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { agentYaml } from './agent-yaml.ts';
import { startBroker } from './broker.ts';

const NODE = 'reconf-node';

describe('changing cameras at run time', () => {
  let dir: string;
  let camera: RtspServer;
  let agent: ServiceProcess;
  let configPath: string;
  let send: (reqId: string, args: unknown) => Promise<CommandReply>;
  const hellos: HelloMessage[] = [];
  const heartbeats: HeartbeatMessage[] = [];

  const pid = async (cameraId: string) =>
    Number((await readFile(join(dir, 'spool', cameraId, 'ffmpeg.pid'), 'utf8').catch(() => '')).trim()) ||
    null;
  const cam = (id: string, mount = id) => ({
    id,
    name: `Camera ${id}`,
    url: `${camera.url.replace(/\/[^/]*$/, '')}/${mount}`,
  });
  /** The config file: master-managed without `cameras`, file-managed with them. */
  const writeConfig = (cams: { id: string; name: string; url: string }[] | null) =>
    writeFile(
      configPath,
      agentYaml({ nodeId: NODE, mqttUrl: brokerUrl, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, dir }, [
        'live: { jsmpeg: { port: 0 } }',
        ...(cams === null
          ? ['management: master']
          : ['cameras:', ...cams.map((c) => `  - { id: ${c.id}, name: "${c.name}", url: "${c.url}" }`)]),
      ]),
    );
  const startAgentProcess = () => {
    agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
  };
  const stopAgent = async () => {
    const exit = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
    await agent.kill('SIGTERM');
    assert.equal(await exit, 0, agent.output().slice(-3000));
  };
  const lastConfig = () => heartbeats.at(-1)?.config;
  let brokerUrl: string;
  let gatewayPort: number;

  before(async () => {
    await ensureRtspServerAvailable();
    dir = await tempDir('agent-reconf-');
    camera = await startRtspServer({
      codec: 'h265',
      width: 160,
      height: 90,
      fps: 5,
      mounts: ['/a', '/b', '/b2', '/c'],
    });
    const broker = await startBroker();
    brokerUrl = broker.url;
    gatewayPort = await freePort(); // nothing listens: uploads just wait
    configPath = join(dir, 'agent.yaml');
    await writeConfig(null);

    const master = await mqtt.connectAsync(broker.url, { clientId: 'reconf-master', reconnectPeriod: 0 });
    onCleanup(() => master.endAsync(true));
    const replies: CommandReply[] = [];
    master.on('message', (topic, payload) => {
      const doc = JSON.parse(payload.toString()) as unknown;
      if (topic === topics.hello(NODE) && validators.hello.check(doc)) hellos.push(doc);
      else if (topic === topics.heartbeat(NODE) && validators.heartbeat.check(doc)) heartbeats.push(doc);
      else if (validators.commandReply.check(doc)) replies.push(doc);
    });
    await master.subscribeAsync([topics.hello(NODE), topics.heartbeat(NODE), topics.reply(NODE, '+')], {
      qos: 1,
    });
    send = async (reqId, args) => {
      await master.publishAsync(topics.cmd(NODE, 'config'), JSON.stringify({ reqId, args }), { qos: 1 });
      return waitFor(`reply ${reqId}`, () => replies.find((r) => r.reqId === reqId), 20_000);
    };

    startAgentProcess();
    onCleanup(async () => {
      for (const id of ['a', 'b', 'c'])
        await reapStaleFfmpeg(join(dir, 'spool', id), pino({ level: 'silent' }));
    });
    await waitFor('a master-managed heartbeat', () => lastConfig()?.mode === 'master', 20_000);
    assert.equal(lastConfig()?.version, null, 'nothing pushed yet');
  });

  it('a master-managed node applies versioned lists; an unchanged camera keeps its ffmpeg', async () => {
    const first = await send('cfg-1', { version: 1, cameras: [cam('a'), cam('b')] });
    assert.equal(first.ok, true, JSON.stringify(first.error));
    await waitFor('both cameras recording', async () => (await pid('a')) && (await pid('b')), 30_000);
    await waitFor('version 1 reported', () => lastConfig()?.version === 1, 10_000);
    const [pidA, pidB] = [await pid('a'), await pid('b')];

    const reply = await send('cfg-2', { version: 2, cameras: [cam('a'), cam('b', 'b2'), cam('c')] });
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
    assert.deepEqual(reply.result, { added: ['c'], removed: [], changed: ['b'], unchanged: ['a'] });
    await waitFor(
      'c recording, b restarted',
      async () => (await pid('c')) && (await pid('b')) !== pidB,
      20_000,
    );
    assert.equal(await pid('a'), pidA, 'camera a was not touched');
    await waitFor('hello lists three cameras', () => hellos.at(-1)?.cameras.length === 3, 10_000);
    await waitFor('version 2 reported', () => lastConfig()?.version === 2, 10_000);

    // A bad list is refused whole, with the problems; nothing changes and the refusal is reported.
    const bad = await send('cfg-3', {
      version: 3,
      cameras: [cam('a'), cam('a'), { id: 'x', name: 'X', url: 'ftp://nope' }],
    });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, 'BAD_ARGS');
    assert.match(bad.error?.message ?? '', /duplicate camera id "a"/);
    assert.match(bad.error?.message ?? '', /unsupported source "ftp:"/);
    assert.equal(await pid('a'), pidA);
    await waitFor('refusal reported', () => lastConfig()?.failed?.version === 3, 10_000);
    assert.equal(lastConfig()?.version, 2, 'still runs version 2');
    assert.match(lastConfig()?.failed?.reason ?? '', /duplicate camera id/);
  });

  it('starts with the last pushed list when the master is away, and SIGHUP does not replace it', async () => {
    agent.child.kill('SIGHUP');
    await waitFor('reload logged', () => /config reloaded/.test(agent.output()), 10_000);
    assert.ok(await pid('c'), 'the pushed list still runs');
    await stopAgent();

    heartbeats.length = 0;
    startAgentProcess(); // nobody sends it anything this time
    await waitFor(
      'the three pushed cameras recording again',
      async () => (await pid('a')) && (await pid('b')) && (await pid('c')),
      30_000,
    );
    await waitFor('version 2 reported after the restart', () => lastConfig()?.version === 2, 20_000);
    await stopAgent();
  });

  it('a file-managed node refuses pushed lists with its reason and follows its file', async () => {
    await writeConfig([cam('a')]);
    heartbeats.length = 0;
    startAgentProcess();
    await waitFor('a file-managed heartbeat', () => lastConfig()?.mode === 'file', 20_000);
    await waitFor(
      'b and c stopped, a recording',
      async () => !(await pid('b')) && !(await pid('c')) && (await pid('a')),
      30_000,
    );

    const refused = await send('cfg-4', { version: 4, cameras: [cam('a'), cam('c')] });
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.code, 'FILE_MANAGED');
    assert.match(refused.error?.message ?? '', /file-managed/);
    assert.match(refused.error?.message ?? '', new RegExp(configPath.replaceAll('/', '\\/')));
    await waitFor('refusal reported', () => lastConfig()?.failed?.version === 4, 10_000);
    assert.equal(lastConfig()?.version, null);
    assert.equal(await pid('c'), null, 'nothing pushed was started');

    const pidA = await pid('a');
    await writeConfig([cam('a'), cam('b')]);
    agent.child.kill('SIGHUP');
    await waitFor('b recording after the reload', async () => await pid('b'), 30_000);
    assert.equal(await pid('a'), pidA, 'camera a was not touched');
    await stopAgent();
  });
});
