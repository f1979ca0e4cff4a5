/**
 * The embedded broker's limits before login, on real sockets: connection caps per address and in
 * all, the login deadline (TCP and TLS, before the handshake too), the packet-size cap applied
 * before the bytes are buffered (a declared 250 MB CONNECT), session takeovers, and that agents
 * still connect, publish and subscribe. The broker is built as the master builds it (security
 * config → brokerSecurity → EmbeddedBroker, its metrics), with node credentials in memory; one
 * test runs the whole master to see the same through `/metrics`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { topics } from '@cctv/protocol';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { Counter, Gauge } from 'prom-client';
import { enrolTestNode } from '../../test/support/enrol.ts';
import { startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import { varint } from '../../test/support/mqtt-wire.ts';
import { serviceTlsEnv } from '../../test/support/tls.ts';
import { hashSecret, MACHINE_SECRET_PARAMS } from '../src/auth/secret-hash.ts';
import { loadSecurityConfig } from '../src/auth/security-config.ts';
import { loadConfig } from '../src/config.ts';
import { startMaster } from '../src/master.ts';
import { createMetrics } from '../src/metrics.ts';
import { EmbeddedBroker, type SessionTakeover } from '../src/mqtt/broker.ts';
import { brokerSecurity } from '../src/mqtt/broker-security.ts';
import { DEFAULT_MQTT_LIMITS } from '../src/mqtt/connection-gate.ts';

const run = promisify(execFile);
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const DEADLINE_MS = 1500;
const NODE_SECRET = 'node-secret-for-the-limits-test-0123456789';
const WATCHER_SECRET = 'watcher-secret-for-the-limits-test';

type Labels = Record<string, string>;
async function value(metric: Counter<string> | Gauge<string>, labels: Labels = {}): Promise<number> {
  const { values } = await metric.get();
  const found = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return found?.value ?? 0;
}

const lifetimes = new WeakMap<Socket, Promise<number>>();
/** Every socket and client a test opened, closed after it whatever happened. */
const opened = new Set<Socket | MqttClient>();

/** A raw TCP socket to the broker from `localAddress` (any of 127.0.0.0/8), connected. */
function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port, localAddress }, () => {
      const t0 = performance.now();
      s.on('error', () => {});
      lifetimes.set(s, new Promise((r) => s.once('close', () => r(performance.now() - t0))));
      opened.add(s);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Ms from the socket's connect until it closed (the broker closed it). */
const lifetime = (s: Socket): Promise<number> =>
  lifetimes.get(s) ?? Promise.reject(new Error('not a rawSocket'));

/** An MQTT client connecting from `localAddress`; resolves connected, or with the error. */
function clientFrom(port: number, localAddress: string, opts: IClientOptions): Promise<MqttClient | Error> {
  const client = new MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...opts,
  });
  opened.add(client);
  return new Promise((resolve) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      resolve(err);
    });
    client.once('close', () => {
      if (!client.connected) resolve(new Error('connection closed before CONNACK'));
    });
  });
}

/** An MQTT client, connected (throws when refused). */
async function connected(url: string, opts: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  opened.add(client);
  return client;
}

describe('MQTT limits on the embedded broker', () => {
  let broker: EmbeddedBroker;
  let metrics: ReturnType<typeof createMetrics>;
  let certDir: string;
  const takeovers: SessionTakeover[] = [];
  /** A node whose credential lookup takes longer than the deadline. */
  const slowNode = 'lim-slow';
  const agent = (nodeId: string): IClientOptions => ({
    clientId: `agent-${nodeId}`,
    username: nodeId,
    password: NODE_SECRET,
  });
  const watcher = (clientId: string): IClientOptions => ({
    clientId,
    username: 'watcher',
    password: WATCHER_SECRET,
  });
  const url = () => `mqtt://127.0.0.1:${broker.port}`;
  const sockets = (state: 'pending' | 'authenticated') => value(metrics.mqttSockets, { state });
  const idle = async () => {
    await waitFor(
      'no socket open',
      async () => (await sockets('pending')) + (await sockets('authenticated')) === 0,
    );
  };

  before(async () => {
    certDir = await tempDir('cctv-tls-');
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')],
    ]);
    const nodeHash = await hashSecret(NODE_SECRET, MACHINE_SECRET_PARAMS);
    const config = loadSecurityConfig({
      MQTT_SERVICE_ACCOUNTS: `watcher:${await hashSecret(WATCHER_SECRET, MACHINE_SECRET_PARAMS)}`,
      MQTT_TLS_PORT: '0',
      MQTT_TLS_CERT: join(certDir, 'cert.pem'),
      MQTT_TLS_KEY: join(certDir, 'key.pem'),
      MQTT_MAX_CONNECTIONS: '12',
      MQTT_MAX_CONNECTIONS_PER_ADDRESS: '6',
      MQTT_MAX_PENDING_PER_ADDRESS: '3',
      MQTT_CONNECT_TIMEOUT_MS: String(DEADLINE_MS),
    });
    metrics = createMetrics();
    const credentials = {
      passwordHash: async (nodeId: string) => {
        if (nodeId === slowNode) await new Promise((r) => setTimeout(r, DEADLINE_MS + 1000));
        return nodeId.startsWith('lim-') ? nodeHash : null;
      },
      touch: async () => {},
    };
    const security = await brokerSecurity(config, credentials, metrics, log);
    broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      log,
      ...security,
      // As the master adds its alert: the counting callback is called too.
      onTakeover: (t) => {
        security.onTakeover?.(t);
        takeovers.push(t);
      },
    });
    await broker.start();
  });
  afterEach(async () => {
    for (const x of opened) x instanceof MqttClient ? x.end(true) : x.destroy();
    opened.clear();
    await idle();
  });
  after(() => broker?.stop());

  it('refuses idle sockets over the per-address pending cap at accept, TLS ones before the handshake', async () => {
    const refused = () => value(metrics.mqttConnectionsRefused, { reason: 'max_pending_per_address' });
    const expired = () => value(metrics.mqttConnectDeadlines, { stage: 'connect' });
    const [refused0, expired0] = [await refused(), await expired()];
    const tlsPort = broker.tlsPort ?? 0;
    // Two on the TCP listener and three raw sockets on the TLS one that never start a handshake:
    // the cap (3) is per address across both listeners.
    const idleOnes: Socket[] = [];
    for (const port of [broker.port, broker.port, tlsPort, tlsPort, tlsPort]) {
      idleOnes.push(await rawSocket(port));
      await waitFor(
        'socket accepted',
        async () => (await sockets('pending')) + (await refused()) - refused0 >= idleOnes.length,
        5000,
        10,
      );
    }
    const closed = await Promise.all(idleOnes.map(lifetime));
    assert.equal((await refused()) - refused0, 2);
    assert.equal((await expired()) - expired0, 3);
    const early = closed.filter((ms) => ms < DEADLINE_MS / 2).length;
    assert.equal(early, 2, `two refused at once, three closed at the deadline: ${closed.map(Math.round)}`);
    for (const ms of closed.filter((x) => x >= DEADLINE_MS / 2))
      assert.ok(ms < DEADLINE_MS + 1000, `${ms} ms`);
  });

  it('closes a socket whose CONNECT never completes, or whose login is still checked, at the deadline', async () => {
    const expired = (stage: string) => value(metrics.mqttConnectDeadlines, { stage });
    const [connect0, auth0] = [await expired('connect'), await expired('authentication')];
    // A CONNECT declared 200 bytes long, of which 10 arrive.
    const partial = await rawSocket(broker.port);
    partial.write(Buffer.from([0x10, ...varint(200), ...Buffer.alloc(10)]));
    const slow = mqtt.connect(url(), { ...agent(slowNode), reconnectPeriod: 0 });
    slow.on('error', () => {});
    opened.add(slow);
    const ok = await connected(url(), agent('lim-a'));
    const ms = await lifetime(partial);
    assert.ok(ms > DEADLINE_MS - 100 && ms < DEADLINE_MS + 1000, `${ms} ms`);
    await waitFor('slow login cut', async () => (await expired('authentication')) - auth0 === 1);
    assert.equal((await expired('connect')) - connect0, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(ok.connected, 'a client that logged in in time stays');
  });

  it('closes a connection declaring a 250 MB CONNECT at its first bytes, with memory bounded', async (t) => {
    const tooLarge = () => value(metrics.mqttPacketsRefused, { reason: 'too_large' });
    const before = await tooLarge();
    const mem0 = process.memoryUsage();
    const s = await rawSocket(broker.port);
    const closed = lifetime(s);
    let isClosed = false;
    void closed.then(() => {
      isClosed = true;
    });
    s.write(Buffer.from([0x10, ...varint(250 * 1024 * 1024)]));
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    // Up to 64 MB, as fast as the socket takes it: without the guard the parser would hold it all.
    while (!isClosed && sent < 64 * 1024 * 1024) {
      const more = s.write(chunk);
      sent += chunk.length;
      if (!more) await Promise.race([new Promise((r) => s.once('drain', r)), closed]);
    }
    await closed;
    const mem1 = process.memoryUsage();
    const grew = (k: 'rss' | 'arrayBuffers') => (mem1[k] - mem0[k]) / 1024 / 1024;
    t.diagnostic(
      `${sent} bytes written before the close; buffers ${grew('arrayBuffers').toFixed(1)} MB, RSS ${grew('rss').toFixed(1)} MB`,
    );
    assert.ok(grew('arrayBuffers') < 8, `buffers grew ${grew('arrayBuffers').toFixed(1)} MB`);
    assert.ok(grew('rss') < 32, `RSS grew ${grew('rss').toFixed(1)} MB`);
    assert.ok(sent < 64 * 1024 * 1024, `closed before the stream ended (${sent} bytes written)`);
    assert.equal((await tooLarge()) - before, 1);
  });

  it('holds the CONNECT to 16 KiB and later packets to MQTT_MAX_PACKET_BYTES', async () => {
    const refused = (reason: string) => value(metrics.mqttPacketsRefused, { reason });
    const [connect0, large0] = [await refused('connect_too_large'), await refused('too_large')];
    const s = await rawSocket(broker.port);
    s.write(Buffer.from([0x10, ...varint(20_000)]));
    assert.ok((await lifetime(s)) < DEADLINE_MS / 2);
    assert.equal((await refused('connect_too_large')) - connect0, 1);

    const a = await connected(url(), agent('lim-a'));
    const gone = new Promise<void>((r) => a.once('close', () => r()));
    a.publish(topics.heartbeat('lim-a'), Buffer.alloc(DEFAULT_MQTT_LIMITS.maxPacketBytes), { qos: 0 });
    await gone;
    assert.equal((await refused('too_large')) - large0, 1);
    a.end(true);
  });

  it('still lets an agent connect, publish 100 KB and get its commands, over TCP and TLS', async () => {
    const w = await connected(url(), watcher('watch-1'));
    const seen = new Map<string, number>();
    w.on('message', (topic, payload) => seen.set(topic, payload.length));
    await w.subscribeAsync('cctv/v1/nodes/#', { qos: 1 });

    const a = await connected(url(), agent('lim-a'));
    const commands: string[] = [];
    a.on('message', (topic) => commands.push(topic));
    await a.subscribeAsync(topics.cmdFilter('lim-a'), { qos: 1 });
    await a.publishAsync(topics.heartbeat('lim-a'), Buffer.alloc(100 * 1024, 0x20), { qos: 1 });
    await waitFor('100 KB delivered', () => seen.get(topics.heartbeat('lim-a')) === 100 * 1024);
    await w.publishAsync(topics.cmd('lim-a', 'ping'), '{}', { qos: 1 });
    await waitFor('command delivered', () => commands.includes(topics.cmd('lim-a', 'ping')));

    const ca = await readFile(join(certDir, 'cert.pem'));
    const b = await connected(`mqtts://localhost:${broker.tlsPort}`, { ...agent('lim-b'), ca });
    await b.publishAsync(topics.hello('lim-b'), Buffer.alloc(100 * 1024, 0x20), { qos: 1 });
    await waitFor('100 KB over TLS delivered', () => seen.get(topics.hello('lim-b')) === 100 * 1024);
    assert.equal(await sockets('authenticated'), 3);
    assert.equal(await sockets('pending'), 0);
    await Promise.all([a.endAsync(), b.endAsync(), w.endAsync()]);
  });

  it('caps open sockets per address and in all', async () => {
    const refused = (reason: string) => value(metrics.mqttConnectionsRefused, { reason });
    const [perAddress0, total0] = [await refused('max_per_address'), await refused('max_connections')];
    const clients: MqttClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await clientFrom(broker.port, '127.0.0.2', watcher(`watch-cap-${i}`));
      assert.ok(c instanceof MqttClient, `client ${i}: ${c}`);
      clients.push(c);
    }
    const seventh = await clientFrom(broker.port, '127.0.0.2', watcher('watch-cap-6'));
    assert.ok(seventh instanceof Error, 'the seventh from one address is refused');
    assert.equal((await refused('max_per_address')) - perAddress0, 1);

    // 6 open; 6 more idle ones from two other addresses fill the 12; a 13th is refused.
    const idleOnes = [];
    for (const from of ['127.0.0.3', '127.0.0.3', '127.0.0.3', '127.0.0.4', '127.0.0.4', '127.0.0.4'])
      idleOnes.push(await rawSocket(broker.port, from));
    await waitFor('12 open', async () => (await sockets('pending')) === 6);
    const thirteenth = await rawSocket(broker.port, '127.0.0.5').catch((err: Error) => err);
    if (!(thirteenth instanceof Error)) assert.ok((await lifetime(thirteenth)) < DEADLINE_MS / 2);
    assert.equal((await refused('max_connections')) - total0, 1);
    for (const s of idleOnes) s.destroy();
    await Promise.all(clients.map((c) => c.endAsync()));
  });

  it('lets a second login with a node’s credentials replace the first, and reports it', async () => {
    const counted = () => value(metrics.mqttSessionTakeovers, { kind: 'node' });
    const before = await counted();
    const seen = takeovers.length;
    // A clean reconnect is no takeover.
    const first = await clientFrom(broker.port, '127.0.0.1', agent('lim-a'));
    assert.ok(first instanceof MqttClient);
    await first.endAsync();
    const a = await clientFrom(broker.port, '127.0.0.1', agent('lim-a'));
    assert.ok(a instanceof MqttClient);
    assert.equal(takeovers.length, seen);

    const aClosed = new Promise<void>((r) => a.once('close', () => r()));
    const b = await clientFrom(broker.port, '127.0.0.7', agent('lim-a'));
    assert.ok(b instanceof MqttClient);
    await aClosed;
    assert.equal(takeovers.length, seen + 1);
    const t = takeovers[seen];
    assert.deepEqual(
      { ...t, previousIdleMs: undefined },
      {
        clientId: 'agent-lim-a',
        identity: { kind: 'node', nodeId: 'lim-a' },
        address: '127.0.0.7',
        previousAddress: '127.0.0.1',
        previousIdleMs: undefined,
      },
    );
    assert.ok(t && t.previousIdleMs !== null && t.previousIdleMs >= 0 && t.previousIdleMs < 5000);
    assert.equal((await counted()) - before, 1);
    assert.ok(b.connected, 'the newer connection stays');
    await b.endAsync();
  });
});

describe('MQTT limits in the master', () => {
  it('come from the environment and show in /metrics', async () => {
    const dbUrl = (await startTestDatabase()).url;
    const secret = await enrolTestNode(dbUrl, 'lim-m');
    const master = await startMaster(
      loadConfig({
        ...serviceTlsEnv(),
        DATABASE_URL: dbUrl,
        MASTER_DATA_DIR: await tempDir(),
        MASTER_HTTP_PORT: '0',
        MASTER_HTTP_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        MQTT_HOST: '127.0.0.1',
        MQTT_MAX_PENDING_PER_ADDRESS: '1',
        MQTT_CONNECT_TIMEOUT_MS: '1000',
      }),
      log,
    );
    try {
      const text = async () => (await fetch(`https://127.0.0.1:${master.httpPort}/metrics`)).text();
      const s1 = await rawSocket(master.mqttPort);
      await waitFor('pending socket shown', async () =>
        (await text()).includes('cctv_mqtt_sockets{state="pending"} 1'),
      );
      const s2 = await rawSocket(master.mqttPort);
      assert.ok((await lifetime(s2)) < 500, 'the second pending socket is refused');
      assert.ok((await lifetime(s1)) < 2000, 'the first is closed at the deadline');
      const url = `mqtt://127.0.0.1:${master.mqttPort}`;
      const opts = { clientId: 'agent-lim-m', username: 'lim-m', password: secret, reconnectPeriod: 0 };
      const a = await mqtt.connectAsync(url, opts);
      const aClosed = new Promise<void>((r) => a.once('close', () => r()));
      const b = await mqtt.connectAsync(url, opts);
      await aClosed;
      await b.endAsync();
      const body = await text();
      for (const line of [
        'cctv_mqtt_connections_refused_total{reason="max_pending_per_address"} 1',
        'cctv_mqtt_connect_deadline_expired_total{stage="connect"} 1',
        'cctv_mqtt_session_takeovers_total{kind="node"} 1',
      ])
        assert.ok(body.includes(line), line);
    } finally {
      await master.stop();
    }
  });
});
