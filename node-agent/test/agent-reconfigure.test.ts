/**
 * Cameras changed at run time, the agent running as its own process against a real RTSP
 * server: by `cmd/config` over MQTT and by SIGHUP after editing the file. Cameras that did not
 * change keep their ffmpeg; the others start, restart or stop.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { type CommandReply, type HelloMessage, topics, validators } from '@cctv/protocol';
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

  const pid = async (cameraId: string) =>
    Number((await readFile(join(dir, 'spool', cameraId, 'ffmpeg.pid'), 'utf8').catch(() => '')).trim()) ||
    null;
  const cam = (id: string, mount = id) => ({
    id,
    name: `Camera ${id}`,
    url: `${camera.url.replace(/\/[^/]*$/, '')}/${mount}`,
  });
  const writeConfig = (cams: { id: string; name: string; url: string }[]) =>
    writeFile(
      configPath,
      agentYaml({ nodeId: NODE, mqttUrl: brokerUrl, gatewayUrl: `http://127.0.0.1:${gatewayPort}`, dir }, [
        'live: { jsmpeg: { port: 0 } }',
        'cameras:',
        ...cams.map((c) => `  - { id: ${c.id}, name: "${c.name}", url: "${c.url}" }`),
      ]),
    );
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
    await writeConfig([cam('a'), cam('b')]);

    const master = await mqtt.connectAsync(broker.url, { clientId: 'reconf-master', reconnectPeriod: 0 });
    onCleanup(() => master.endAsync(true));
    const replies: CommandReply[] = [];
    master.on('message', (topic, payload) => {
      const doc = JSON.parse(payload.toString()) as unknown;
      if (topic === topics.hello(NODE) && validators.hello.check(doc)) hellos.push(doc);
      else if (validators.commandReply.check(doc)) replies.push(doc);
    });
    await master.subscribeAsync([topics.hello(NODE), topics.reply(NODE, '+')], { qos: 1 });
    send = async (reqId, args) => {
      await master.publishAsync(topics.cmd(NODE, 'config'), JSON.stringify({ reqId, args }), { qos: 1 });
      return waitFor(`reply ${reqId}`, () => replies.find((r) => r.reqId === reqId), 20_000);
    };

    agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
    onCleanup(async () => {
      for (const id of ['a', 'b', 'c'])
        await reapStaleFfmpeg(join(dir, 'spool', id), pino({ level: 'silent' }));
    });
    await waitFor('both cameras recording', async () => (await pid('a')) && (await pid('b')), 30_000).catch(
      (err) => {
        throw new Error(`${err.message}\n${agent.output().slice(-4000)}`);
      },
    );
  });

  it('cmd/config adds, changes and keeps cameras; the untouched one keeps its ffmpeg', async () => {
    const [pidA, pidB] = [await pid('a'), await pid('b')];
    const reply = await send('cfg-1', { cameras: [cam('a'), cam('b', 'b2'), cam('c')] });
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
    assert.deepEqual(reply.result, { added: ['c'], removed: [], changed: ['b'], unchanged: ['a'] });
    await waitFor(
      'c recording, b restarted',
      async () => (await pid('c')) && (await pid('b')) !== pidB,
      20_000,
    );
    assert.equal(await pid('a'), pidA, 'camera a was not touched');
    await waitFor('hello lists three cameras', () => hellos.at(-1)?.cameras.length === 3, 10_000);

    // A bad list is refused whole, with the problems, and nothing changes.
    const bad = await send('cfg-2', {
      cameras: [cam('a'), cam('a'), { id: 'x', name: 'X', url: 'ftp://nope' }],
    });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, 'BAD_ARGS');
    assert.match(bad.error?.message ?? '', /duplicate camera id "a"/);
    assert.match(bad.error?.message ?? '', /unsupported source "ftp:"/);
    assert.equal(await pid('a'), pidA);
  });

  it('SIGHUP keeps the command-set cameras while the file is unchanged, and applies the file once edited', async () => {
    const pidA = await pid('a');
    const pidC = await pid('c');
    agent.child.kill('SIGHUP');
    await waitFor('reload logged', () => /config reloaded/.test(agent.output()), 10_000);
    assert.equal(await pid('c'), pidC, 'the list set by cmd/config still runs');

    await writeConfig([cam('a')]);
    agent.child.kill('SIGHUP');
    await waitFor('b and c stopped', async () => !(await pid('b')) && !(await pid('c')), 20_000);
    assert.equal(await pid('a'), pidA, 'camera a was not touched');
    await waitFor('hello lists one camera', () => hellos.at(-1)?.cameras.length === 1, 10_000);
    assert.match(agent.output(), /the file wins/);

    const exit = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
    await agent.kill('SIGTERM');
    assert.equal(await exit, 0, agent.output().slice(-3000));
  });
});
