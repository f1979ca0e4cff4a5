/**
 * The agent over TLS, as a real process: uploads over https and MQTT over mqtts, both verified
 * against the CA of `tls.ca` (a pin), and its jsmpeg live view on wss:// only. Pinned to another
 * CA it talks to neither server, and keeps every segment for later.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { type CommandReply, type HeartbeatMessage, type JsmpegOpenResult, topics } from '@cctv/protocol';
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import pino from 'pino';
import { WebSocket } from 'ws';
import { freePort, startService, tempDir, waitFor } from '../../test/support/index.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { agentYaml } from './agent-yaml.ts';

const dir = await tempDir('agent-tls-');
const ca = await ensureLocalCa(join(dir, 'ca'));
const otherCa = await ensureLocalCa(join(dir, 'other-ca'), 'Some other CA');
const caPem = await readFile(ca.certFile);
// The agent advertises its jsmpeg server at this host's first IPv4: its certificate names them all.
const addresses = Object.values(networkInterfaces())
  .flat()
  .flatMap((a) => (a?.family === 'IPv4' ? [a.address] : []));
const names = ['localhost', ...new Set(['127.0.0.1', ...addresses])];
const servers = await ensureCertificate(ca, dir, 'servers', { names });
const agentCert = await ensureCertificate(ca, dir, 'agent', { names });
const serverTls = { cert: await readFile(servers.certFile), key: await readFile(servers.keyFile) };

/** An aedes broker behind a TLS listener only; it records which clients came over TLS. */
const broker = await Aedes.createBroker();
const tlsClients = new Set<string>();
broker.on('client', (client) => {
  if ((client.conn as Partial<TLSSocket>).encrypted === true) tlsClients.add(client.id);
});
const mqttServer = createTlsServer(serverTls, (socket) => broker.handle(socket));
const mqttPort = await freePort();
await new Promise<void>((r) => mqttServer.listen(mqttPort, '127.0.0.1', r));
after(async () => {
  await new Promise<void>((r) => broker.close(() => r()));
  mqttServer.close();
});

/** The gateway stand-in, https only: takes every PUT and notes whether it came encrypted. */
const puts: { node: string; name: string; encrypted: boolean }[] = [];
const gateway = createHttpsServer(serverTls, (req, res) => {
  req.resume();
  req.on('end', () => {
    puts.push({
      node: String(req.headers['x-cctv-node'] ?? ''),
      name: decodeURIComponent(req.url?.split('/').at(-1) ?? ''),
      encrypted: (req.socket as TLSSocket).encrypted === true,
    });
    res.writeHead(201).end('{}');
  });
});
const gatewayPort = await freePort();
await new Promise<void>((r) => gateway.listen(gatewayPort, '127.0.0.1', r));
after(() => {
  gateway.closeAllConnections();
  gateway.close();
});

async function startAgent(nodeId: string, tls: string[]) {
  const home = join(dir, nodeId);
  const configPath = join(dir, `${nodeId}.yaml`);
  await writeFile(
    configPath,
    agentYaml(
      {
        nodeId,
        mqttUrl: `mqtts://localhost:${mqttPort}`,
        gatewayUrl: `https://localhost:${gatewayPort}`,
        dir: home,
      },
      ['segmentSeconds: 2', 'live: { jsmpeg: { port: 0 } }', 'tls:', ...tls.map((line) => `  ${line}`)],
    ),
  );
  const agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'info' }, ['--config', configPath]);
  after(() => reapStaleFfmpeg(join(home, 'spool', `${nodeId}-sim`), pino({ level: 'silent' })));
  const stop = async () => {
    const exit = new Promise<number | null>((r) => agent.child.once('exit', (code) => r(code)));
    await agent.kill('SIGTERM');
    assert.equal(await exit, 0, agent.output());
  };
  return { agent, home, stop };
}

/** Polls with the agent's output in the failure message. */
function waitOr(output: () => string) {
  return <T>(
    what: string,
    probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
    timeoutMs = 30_000,
  ) =>
    waitFor(what, probe, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}\n${output().slice(-6000)}`);
    });
}

/** Resolves with the first message, rejects with the connection's error. */
function firstMessage(url: string, options: ConstructorParameters<typeof WebSocket>[2]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const timer = setTimeout(() => reject(new Error('no message within 20 s')), 20_000);
    ws.once('message', (data) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(data as Buffer);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('agent over TLS (tls.ca pinned, tls.cert/key for jsmpeg)', () => {
  it('uploads over https, reports over mqtts and serves jsmpeg on wss:// only, verified against its CA', async () => {
    const { agent, stop } = await startAgent('tls-node', [
      `ca: "${ca.certFile}"`,
      `cert: "${agentCert.certFile}"`,
      `key: "${agentCert.keyFile}"`,
    ]);
    const wait = waitOr(agent.output);
    const watcher = await mqtt.connectAsync(`mqtts://localhost:${mqttPort}`, {
      clientId: 'tls-watcher',
      ca: caPem,
      reconnectPeriod: 0,
    });
    after(() => watcher.endAsync(true));
    const seen: { topic: string; payload: string }[] = [];
    watcher.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await watcher.subscribeAsync(topics.nodeTree('tls-node'), { qos: 1 });

    await wait('the agent connected to the broker', () => tlsClients.has('agent-tls-node'));
    await wait('two segments uploaded', () => puts.filter((p) => p.name.endsWith('.m4s')).length >= 2);
    assert.match(puts.find((p) => !p.name.endsWith('.jpg'))?.name ?? '', /^init-[0-9a-f]{16}\.mp4$/);
    // The test pattern moves: event snapshots go up the same way.
    await wait('a snapshot uploaded', () => puts.some((p) => p.name.endsWith('.jpg')));

    const heartbeats = () =>
      seen
        .filter((m) => m.topic === topics.heartbeat('tls-node'))
        .map((m) => JSON.parse(m.payload) as HeartbeatMessage);
    await wait('jsmpeg listening', () => heartbeats().some((h) => h.live?.jsmpeg === 'ok'));
    const open = async (reqId: string): Promise<string> => {
      const payload = JSON.stringify({ reqId, args: { camera: 'tls-node-sim' } });
      await watcher.publishAsync(topics.cmd('tls-node', 'jsmpeg-open'), payload, { qos: 1 });
      const reply = await wait(`reply ${reqId}`, () =>
        seen.find((m) => m.topic === topics.reply('tls-node', reqId)),
      );
      const answer = JSON.parse(reply.payload) as CommandReply;
      assert.ok(answer.ok, reply.payload);
      return (answer.result as JsmpegOpenResult).url;
    };
    const url = await open('jsmpeg-1');
    assert.match(url, /^wss:\/\//, 'the ticket URL says wss://');
    const data = await firstMessage(url, { ca: caPem });
    assert.equal(data[0], 0x47, 'MPEG-TS over wss://');
    // Clear text gets nothing from a TLS server, even with a good ticket.
    const plain = (await open('jsmpeg-2')).replace(/^wss:/, 'ws:');
    await assert.rejects(firstMessage(plain, {}), /socket hang up|ECONNRESET|Unexpected server response/);
    // Nor does a client that trusts another CA: the agent's certificate is verified.
    await assert.rejects(
      firstMessage(await open('jsmpeg-3'), { ca: await readFile(otherCa.certFile) }),
      /issuer|self.signed|unable to verify/i,
    );

    await stop();
    assert.deepEqual(
      puts.filter((p) => !p.encrypted),
      [],
      'every upload came over TLS',
    );
    assert.doesNotMatch(agent.output(), /clear text|without TLS/, 'nothing to warn of');
    assert.doesNotMatch(agent.output(), /"level":(50|60)/, 'no errors logged');
  });

  it('pinned to another CA, refuses the gateway and the broker and keeps every segment', async () => {
    const { agent, home, stop } = await startAgent('pinned-node', [`ca: "${otherCa.certFile}"`]);
    const wait = waitOr(agent.output);
    const certificateError = /issuer certificate|unable to verify|self.signed/;
    const logged = (msg: string) =>
      agent
        .output()
        .split('\n')
        .filter((line) => line.includes(`"msg":"${msg}`));
    await wait('an upload refused for its certificate', () =>
      logged('upload failed, will retry').some((line) => certificateError.test(line)),
    );
    await wait('the broker refused for its certificate', () =>
      logged('mqtt error').some((line) => certificateError.test(line)),
    );
    const spool = join(home, 'spool', 'pinned-node-sim');
    await wait(
      'three segments recorded',
      async () => (await readdir(spool)).filter((f) => f.endsWith('.m4s')).length >= 3,
    );
    // Warned at start: jsmpeg without a certificate of its own.
    assert.match(agent.output(), /live\.jsmpeg: served without TLS/);
    await stop();
    assert.equal(tlsClients.has('agent-pinned-node'), false, 'never connected to the broker');
    assert.deepEqual(
      puts.filter((p) => p.node === 'pinned-node'),
      [],
      'nothing reached the gateway',
    );
    const kept = (await readdir(spool)).filter((f) => f.endsWith('.m4s'));
    assert.ok(kept.length >= 3, `segments stay in the spool: ${kept.join(', ')}`);
  });
});
