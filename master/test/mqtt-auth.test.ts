/**
 * MQTT authentication and ACL against the real master (embedded aedes) and PostgreSQL: node
 * logins, refusals and their metrics, topic rules for nodes and service accounts, the enrolment
 * CLI and rotation, the TLS listener, and `MQTT_AUTH=off`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import { topics } from '@cctv/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { enrolTestNode, enrolTestNodeFully } from '../../test/support/enrol.ts';
import { repoRoot, startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import { signInAdmin, TEST_ADMIN_PASSWORD } from '../../test/support/session.ts';
import { serviceTlsEnv } from '../../test/support/tls.ts';
import {
  EnrolmentError,
  enrolNode,
  hashUploadToken,
  NodeCredentialRepository,
} from '../src/auth/node-credentials.ts';
import { hashSecret } from '../src/auth/secret-hash.ts';
import { loadConfig } from '../src/config.ts';
import { type RunningMaster, startMaster } from '../src/master.ts';

const run = promisify(execFile);
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const status = (state: 'online' | 'offline') =>
  JSON.stringify({ state, at: new Date().toISOString(), agentVersion: '0.1.0' });

/** Connects, or resolves the refusal (an Error carrying the CONNACK code as `code`). */
async function connect(url: string, opts: IClientOptions): Promise<MqttClient | (Error & { code?: number })> {
  try {
    return await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  } catch (err) {
    return err as Error & { code?: number };
  }
}

async function connected(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = await connect(url, opts);
  if (c instanceof Error) throw c;
  return c;
}

/** The QoS the broker granted for each filter (128 = refused; mqtt.js rejects on any 128). */
async function grantedQos(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}

const agentOpts = (nodeId: string, password: string): IClientOptions => ({
  clientId: `agent-${nodeId}`,
  username: nodeId,
  password,
});

async function enrolCli(env: Record<string, string>, ...args: string[]) {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'master/bin/enrol-node.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('MQTT authentication and ACL on the embedded broker', () => {
  let master: RunningMaster;
  let dbUrl: string;
  let url: string;
  let certDir: string;
  const secrets: Record<string, string> = {};
  const watcherPassword = 'watcher-password-for-tests';

  /** What the database keeps of a node's upload token. */
  const storedTokenHash = async (nodeId: string): Promise<string | null | undefined> => {
    const prisma = createPrismaClient(dbUrl, 1);
    try {
      return (await prisma.nodeCredential.findUnique({ where: { nodeId } }))?.uploadTokenHash;
    } finally {
      await prisma.$disconnect();
    }
  };

  const metric = async (line: string): Promise<number> => {
    const text = await (await fetch(`https://127.0.0.1:${master.httpPort}/metrics`)).text();
    const found = text.split('\n').find((l) => l.startsWith(line));
    return found ? Number(found.slice(found.lastIndexOf(' ') + 1)) : 0;
  };

  before(async () => {
    dbUrl = (await startTestDatabase()).url;
    certDir = await tempDir('cctv-tls-');
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'],
      ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ...['-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')],
    ]);
    const config = loadConfig({
      ...serviceTlsEnv(),
      DATABASE_URL: dbUrl,
      MASTER_DATA_DIR: await tempDir(),
      MASTER_HTTP_PORT: '0',
      MASTER_HTTP_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      // Every CONNECT is checked against the database, so a rotation counts at once.
      MQTT_AUTH_CACHE_S: '0',
      MQTT_SERVICE_ACCOUNTS: `watcher:${await hashSecret(watcherPassword)}`,
      MQTT_TLS_PORT: '0',
      MQTT_TLS_CERT: join(certDir, 'cert.pem'),
      MQTT_TLS_KEY: join(certDir, 'key.pem'),
      MASTER_ENROL_API: 'on',
      MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    });
    master = await startMaster(config, log);
    url = `mqtt://127.0.0.1:${master.mqttPort}`;
    for (const id of ['auth-a', 'auth-b']) secrets[id] = await enrolTestNode(dbUrl, id);
  });
  after(() => master?.stop());

  it('accepts a node with its credentials and refuses wrong, unknown or missing ones', async () => {
    const ok = await connected(url, agentOpts('auth-a', secrets['auth-a'] ?? ''));
    await ok.endAsync();

    const cases: [IClientOptions, string][] = [
      [agentOpts('auth-a', 'not-the-password'), 'bad_password'],
      [agentOpts('auth-nobody', 'whatever'), 'unknown_node'],
      [{ clientId: 'agent-auth-a' }, 'missing_credentials'],
      [{ ...agentOpts('auth-a', secrets['auth-a'] ?? ''), clientId: 'agent-auth-b' }, 'bad_client_id'],
      [{ clientId: 'tool', username: 'nobody', password: 'x' }, 'unknown_account'],
    ];
    for (const [opts, reason] of cases) {
      const line = `cctv_master_mqtt_auth_failures_total{reason="${reason}"}`;
      const before = await metric(line);
      const refused = await connect(url, opts);
      assert.ok(refused instanceof Error, `${reason}: connection refused`);
      assert.equal(refused.code, 4, `${reason}: CONNACK bad username or password`);
      assert.equal(await metric(line), before + 1, `${reason} counted`);
    }
  });

  it('keeps a node to its own topics: foreign prefix, its own commands and others’ commands are refused', async () => {
    const watcher = await connected(url, {
      clientId: 'watch-1',
      username: 'watcher',
      password: watcherPassword,
    });
    const seen: string[] = [];
    watcher.on('message', (topic) => seen.push(topic));
    await watcher.subscribeAsync('cctv/v1/nodes/#', { qos: 1 });

    const a = await connected(url, agentOpts('auth-a', secrets['auth-a'] ?? ''));
    const granted = await grantedQos(a, [topics.cmdFilter('auth-a'), topics.cmdFilter('auth-b'), '#']);
    assert.deepEqual(granted, [1, 128, 128]);
    assert.ok((await metric('cctv_mqtt_subscribe_refused_total{reason="foreign_node"}')) >= 1);
    assert.ok((await metric('cctv_mqtt_subscribe_refused_total{reason="outside_node_tree"}')) >= 1);

    // aedes drops the connection of a client whose QoS 1 publish is not authorized.
    const foreign = await metric('cctv_mqtt_publish_refused_total{reason="foreign_node"}');
    a.publish(topics.status('auth-b'), status('online'), { qos: 1, retain: true });
    await waitFor('foreign publish counted', async () =>
      (await metric('cctv_mqtt_publish_refused_total{reason="foreign_node"}')) > foreign ? true : null,
    );
    a.end(true);
    const a2 = await connected(url, agentOpts('auth-a', secrets['auth-a'] ?? ''));
    const own = await metric('cctv_mqtt_publish_refused_total{reason="command_topic"}');
    a2.publish(topics.cmd('auth-a', 'ping'), '{}', { qos: 1 });
    await waitFor('own command publish counted', async () =>
      (await metric('cctv_mqtt_publish_refused_total{reason="command_topic"}')) > own ? true : null,
    );
    a2.end(true);

    // A legitimate message after the refused ones: the watcher sees it, and only it.
    const b = await connected(url, agentOpts('auth-b', secrets['auth-b'] ?? ''));
    await b.publishAsync(topics.heartbeat('auth-b'), '{}', { qos: 1 });
    await waitFor('legitimate message delivered', () => seen.includes(topics.heartbeat('auth-b')));
    assert.deepEqual(seen, [topics.heartbeat('auth-b')], 'nothing refused reached the subscriber');
    const admin = await signInAdmin(`https://127.0.0.1:${master.httpPort}`);
    const node = await admin.fetch('/api/nodes/auth-b');
    assert.equal(node.status, 404, 'the foreign status registered nothing');
    await b.endAsync();
    await watcher.endAsync();
  });

  it('lets a service account read node topics and send commands, nothing else', async () => {
    const agent = await connected(url, agentOpts('auth-b', secrets['auth-b'] ?? ''));
    const commands: string[] = [];
    agent.on('message', (topic) => commands.push(topic));
    await agent.subscribeAsync(topics.cmdFilter('auth-b'), { qos: 1 });

    const tool = await connected(url, { clientId: 'tool-1', username: 'watcher', password: watcherPassword });
    const granted = await grantedQos(tool, ['cctv/v1/nodes/+/status', '$SYS/#', 'other/#']);
    assert.deepEqual(granted, [1, 128, 128]);
    await tool.publishAsync(topics.cmd('auth-b', 'ping'), '{}', { qos: 1 });
    await waitFor('command delivered to the node', () => commands.includes(topics.cmd('auth-b', 'ping')));
    const readOnly = await metric('cctv_mqtt_publish_refused_total{reason="read_only"}');
    tool.publish(topics.status('auth-b'), status('offline'), { qos: 1 });
    await waitFor('service publish refused', async () =>
      (await metric('cctv_mqtt_publish_refused_total{reason="read_only"}')) > readOnly ? true : null,
    );
    tool.end(true);
    await agent.endAsync();

    const asAgent = await connect(url, {
      clientId: 'agent-watcher',
      username: 'watcher',
      password: watcherPassword,
    });
    assert.ok(asAgent instanceof Error, 'a service account cannot pose as an agent');
  });

  it('issues an upload token with each enrolment and keeps only its sha256', async () => {
    const prisma = createPrismaClient(dbUrl, 1);
    try {
      const repo = new NodeCredentialRepository(prisma);
      const e = await enrolNode(repo, 'auth-token');
      assert.equal(e.rotated, false);
      assert.match(e.uploadToken, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(e.uploadToken, e.secret);
      const row = await prisma.nodeCredential.findUnique({ where: { nodeId: 'auth-token' } });
      assert.ok(row);
      assert.equal(row.uploadTokenHash, hashUploadToken(e.uploadToken));
      assert.match(row.uploadTokenHash ?? '', /^[0-9a-f]{64}$/);
      assert.ok(!JSON.stringify(row).includes(e.uploadToken), 'the token itself is not stored');
      assert.equal(await repo.uploadTokenHash('auth-token'), row.uploadTokenHash);
      assert.equal(await repo.uploadTokenHash('never-enrolled'), null);

      await assert.rejects(
        enrolNode(repo, 'auth-token'),
        (err: unknown) => err instanceof EnrolmentError && err.code === 'ALREADY_ENROLLED',
      );
      assert.equal(await repo.uploadTokenHash('auth-token'), hashUploadToken(e.uploadToken));
      const again = await enrolNode(repo, 'auth-token', { rotate: true });
      assert.equal(again.rotated, true);
      assert.notEqual(again.uploadToken, e.uploadToken);
      assert.equal(await repo.uploadTokenHash('auth-token'), hashUploadToken(again.uploadToken));
      // The test helper enrols the same way: one enrolment, both credentials.
      const viaHelper = await enrolTestNodeFully(dbUrl, 'auth-token');
      assert.equal(await repo.uploadTokenHash('auth-token'), hashUploadToken(viaHelper.uploadToken));
      await (await connected(url, agentOpts('auth-token', viaHelper.secret))).endAsync();
    } finally {
      await prisma.$disconnect();
    }
  });

  it('enrols through the CLI once, refuses a second enrol, and a rotation invalidates the old password', async () => {
    const env = { DATABASE_URL: dbUrl, LOG_LEVEL: 'warn' };
    const first = await enrolCli(env, 'auth-cli');
    assert.equal(first.code, 0, first.stderr);
    const password = /password: "([A-Za-z0-9_-]{43})"/.exec(first.stdout)?.[1];
    assert.ok(password, first.stdout);
    assert.equal(first.stdout.split(password).length - 1, 1, 'the secret is printed exactly once');
    assert.match(first.stdout, /username: auth-cli/);
    // The same enrolment issues the gateway upload token, for the agent's `gateway.token`.
    const token = /\n {2}token: "([A-Za-z0-9_-]{43})"/.exec(first.stdout)?.[1];
    assert.ok(token && token !== password, first.stdout);
    assert.match(first.stdout, /^gateway:$/m);
    assert.equal(first.stdout.split(token).length - 1, 1, 'the token is printed exactly once');
    assert.equal(await storedTokenHash('auth-cli'), hashUploadToken(token));

    const again = await enrolCli(env, 'auth-cli');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already enrolled/);
    assert.doesNotMatch(again.stdout, /password/);
    const bad = await enrolCli(env, 'Bad_Id');
    assert.equal(bad.code, 2);

    const c = await connected(url, agentOpts('auth-cli', password));
    await c.endAsync();
    const rotated = await enrolCli(env, 'auth-cli', '--rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const next = /password: "([A-Za-z0-9_-]{43})"/.exec(rotated.stdout)?.[1];
    assert.ok(next && next !== password);
    const nextToken = /token: "([A-Za-z0-9_-]{43})"/.exec(rotated.stdout)?.[1];
    assert.ok(nextToken && nextToken !== token, 'a rotation replaces the upload token too');
    assert.equal(await storedTokenHash('auth-cli'), hashUploadToken(nextToken));
    const old = await connect(url, agentOpts('auth-cli', password));
    assert.ok(old instanceof Error, 'the old password is refused after the rotation');
    await (await connected(url, agentOpts('auth-cli', next))).endAsync();
  });

  it('enrols over HTTP for admins when MASTER_ENROL_API=on, once per node unless rotated', async () => {
    const base = `https://127.0.0.1:${master.httpPort}`;
    const admin = await signInAdmin(base);
    const post = (id: string, body?: unknown, cookie = admin.cookie) =>
      fetch(`${base}/api/nodes/${id}/credentials`, {
        method: 'POST',
        headers: {
          ...(cookie ? { cookie } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    assert.equal((await post('auth-http', undefined, '')).status, 401, 'no session, no credential');
    const created = await post('auth-http');
    assert.equal(created.status, 201);
    const body = (await created.json()) as { username: string; password: string; uploadToken: string };
    assert.equal(body.username, 'auth-http');
    assert.match(body.uploadToken, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(body.uploadToken, body.password);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    assert.equal(await storedTokenHash('auth-http'), hashUploadToken(body.uploadToken));
    assert.equal((await post('auth-http')).status, 409);
    assert.equal((await post('Bad_Id')).status, 400);
    await (await connected(url, agentOpts('auth-http', body.password))).endAsync();
    const rotated = await post('auth-http', { rotate: true });
    assert.equal(rotated.status, 200);
    const rotatedBody = (await rotated.json()) as { rotated: boolean; uploadToken: string };
    assert.equal(rotatedBody.rotated, true);
    assert.notEqual(rotatedBody.uploadToken, body.uploadToken);
    assert.equal(await storedTokenHash('auth-http'), hashUploadToken(rotatedBody.uploadToken));
    assert.ok((await connect(url, agentOpts('auth-http', body.password))) instanceof Error);
  });

  it('serves the same broker over TLS', async () => {
    assert.ok(master.mqttTlsPort);
    const ca = await readFile(join(certDir, 'cert.pem'));
    const c = await connected(`mqtts://localhost:${master.mqttTlsPort}`, {
      ...agentOpts('auth-a', secrets['auth-a'] ?? ''),
      ca,
    });
    await c.publishAsync(topics.heartbeat('auth-a'), '{}', { qos: 1 });
    await c.endAsync();
    const untrusted = await connect(`mqtts://localhost:${master.mqttTlsPort}`, agentOpts('auth-a', 'x'));
    assert.ok(untrusted instanceof Error, 'a client that does not trust the certificate fails');
  });

  it('with MQTT_AUTH=off accepts anonymous clients and keeps agent-<id> clients to their prefix', async () => {
    const open = await startMaster(
      loadConfig({
        ...serviceTlsEnv(),
        DATABASE_URL: dbUrl,
        MASTER_DATA_DIR: await tempDir(),
        MASTER_HTTP_PORT: '0',
        MASTER_HTTP_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        MQTT_HOST: '127.0.0.1',
        MQTT_AUTH: 'off',
      }),
      log,
    );
    try {
      const a = await connected(`mqtt://127.0.0.1:${open.mqttPort}`, { clientId: 'agent-open-a' });
      await a.publishAsync(topics.heartbeat('open-a'), '{}', { qos: 1 });
      a.publish(topics.hello('open-b'), '{}', { qos: 1 });
      await waitFor('refusal counted', async () => {
        const text = await (await fetch(`https://127.0.0.1:${open.httpPort}/metrics`)).text();
        return text.includes('cctv_mqtt_publish_refused_total{reason="outside_prefix"} 1');
      });
      a.end(true);
    } finally {
      await open.stop();
    }
  });
});
