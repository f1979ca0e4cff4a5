/**
 * The desired configuration with every part real: master, gateway, an agent as its own process
 * (master-managed), a test RTSP server. A camera added through the API records; a change made
 * while the agent is down is applied when it returns (in sync shown); a rollback to the
 * previous version is applied; the same node restarted file-managed refuses the pushed list,
 * and the node view says why. The camera's password appears in no API answer, no audit row and
 * no log line of the master, the gateway or the agent.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { AuditPage, CameraChangeAnswer, NodeView } from '@cctv/protocol';
import { type Central, startCentral } from '../support/central.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { type ServiceProcess, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { ensureRtspServerAvailable, type RtspServer, startRtspServer } from '../support/rtsp-server.ts';
import { agentTlsConfig } from '../support/tls.ts';

const NODE = 'cfg-e2e-node';
const SECRET = 'Cam3ra-s3cret-Word';

describe('desired configuration end to end', () => {
  let central: Central;
  let camera: RtspServer;
  let dir: string;
  let configFile: string;
  let agent: ServiceProcess;
  const outputs: (() => string)[] = [];
  const answers: string[] = [];

  const node = () => central.admin.getJson<NodeView>(`/api/nodes/${NODE}`);
  const ffmpegPid = async (cameraId: string) =>
    Number((await readFile(join(dir, 'spool', cameraId, 'ffmpeg.pid'), 'utf8').catch(() => '')).trim()) ||
    null;
  const alive = (pid: number | null) => {
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const urlOf = (mount: string) =>
    `${camera.url.replace(/^rtsp:\/\//, `rtsp://viewer:${SECRET}@`).replace(/\/[^/]*$/, '')}/${mount}`;

  async function startAgent(management: 'master' | 'file'): Promise<void> {
    const enrolment = await enrolTestNodeFully(dbUrl, NODE);
    await writeFile(
      configFile,
      JSON.stringify({
        nodeId: NODE,
        mqtt: { url: central.mqttsUrl, username: NODE, password: enrolment.secret },
        tls: agentTlsConfig(),
        gateway: { url: central.gatewayUrl, token: enrolment.uploadToken },
        spool: { dir: join(dir, 'spool'), minFreeBytes: 0 },
        stateDir: join(dir, 'state'),
        heartbeatIntervalS: 1,
        live: { jsmpeg: { port: 0 } },
        management,
        ...(management === 'file' ? { cameras: [{ id: 'cfg-local', name: 'Local', url: urlOf('c') }] } : {}),
      }),
    );
    agent = startService('node-agent/src/main.ts', { LOG_LEVEL: 'debug' }, ['--config', configFile]);
    outputs.push(agent.output);
  }
  async function stopAgent(): Promise<void> {
    await agent.kill('SIGTERM');
    await waitFor(
      'agent exited',
      () => agent.child.exitCode !== null || agent.child.signalCode !== null,
      20_000,
    );
  }
  async function call(method: string, path: string, body?: unknown): Promise<CameraChangeAnswer> {
    const res = await central.admin.fetch(path, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    answers.push(text);
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as CameraChangeAnswer;
  }
  let dbUrl: string;

  before(async () => {
    await ensureRtspServerAvailable();
    dir = await tempDir('cctv-e2e-config-');
    configFile = join(dir, 'agent.yaml');
    const db = await startTestDatabase();
    dbUrl = db.url;
    central = await startCentral(db, dir, { LOG_LEVEL: 'debug' });
    outputs.push(central.master.output, central.gateway.output);
    camera = await startRtspServer({
      codec: 'h264',
      width: 160,
      height: 90,
      fps: 5,
      mounts: ['/a', '/b', '/c'],
    });
    await startAgent('master');
    await waitFor(
      'the node online, master-managed, unconfigured',
      async () => (await node().catch(() => null))?.config.sync === 'unconfigured',
      60_000,
    );
  });

  it('adds a camera that records; a change made while the node is down is applied on its return', async () => {
    const added = await call('POST', '/api/config/cameras', {
      id: 'cfg-a',
      nodeId: NODE,
      name: 'Door',
      url: urlOf('a'),
      transports: ['tcp'],
    });
    assert.deepEqual([added.version, added.push.state], [1, 'applied']);
    assert.equal(added.camera?.url.includes(SECRET), false);
    await waitFor(
      'cfg-a recording, in sync',
      async () => {
        const n = await node();
        return (
          n.config.sync === 'in_sync' && n.cameras.some((c) => c.id === 'cfg-a' && c.state === 'recording')
        );
      },
      60_000,
    );

    await stopAgent();
    await waitFor('node offline', async () => (await node()).state === 'offline', 20_000);
    const queued = await call('POST', '/api/config/cameras', {
      id: 'cfg-b',
      nodeId: NODE,
      name: 'Yard',
      url: urlOf('b'),
    });
    assert.deepEqual([queued.version, queued.push.state], [2, 'queued']);
    assert.equal((await node()).config.sync, 'pending');

    await startAgent('master');
    await waitFor(
      'version 2 applied on return: both cameras recording, in sync',
      async () => {
        const n = await node();
        return (
          n.config.sync === 'in_sync' &&
          n.config.appliedVersion === 2 &&
          ['cfg-a', 'cfg-b'].every((id) => n.cameras.some((c) => c.id === id && c.state === 'recording'))
        );
      },
      60_000,
    );
  });

  it('rolls back to the previous version: the camera it lacked stops on the node', async () => {
    const pidB = await ffmpegPid('cfg-b');
    assert.ok(alive(pidB), 'cfg-b runs before the rollback');
    const rolled = await call('POST', `/api/config/nodes/${NODE}/rollback`, { version: 1 });
    assert.deepEqual([rolled.version, rolled.push.state], [3, 'applied']);
    await waitFor('cfg-b ffmpeg gone', () => !alive(pidB), 20_000);
    await waitFor('version 3 in sync', async () => (await node()).config.appliedVersion === 3, 20_000);
    assert.ok(alive(await ffmpegPid('cfg-a')), 'cfg-a still records');
  });

  it('a node restarted file-managed refuses the pushed list, and the node view says why', async () => {
    await stopAgent();
    await startAgent('file');
    await waitFor(
      'file-managed with the refusal shown',
      async () => {
        const c = (await node()).config;
        return c.sync === 'file_managed' && /file-managed/.test(c.reason ?? '');
      },
      60_000,
    );
    const n = await node();
    assert.match(n.config.reason ?? '', new RegExp(configFile.replaceAll('/', '\\/')));
    await waitFor('its own camera records', async () => alive(await ffmpegPid('cfg-local')), 30_000);
    assert.equal(alive(await ffmpegPid('cfg-a')), false, 'the pushed camera is not run');
  });

  it('shows the camera password in no answer, audit row or log line', async () => {
    const audit = await central.admin.getJson<AuditPage>('/api/audit?limit=500');
    const settings = await central.admin.fetch('/api/config/cameras').then((r) => r.text());
    const nodes = await central.admin.fetch('/api/nodes').then((r) => r.text());
    const haystacks = {
      answers: answers.join('\n'),
      audit: JSON.stringify(audit),
      settings,
      nodes,
      logs: outputs.map((o) => o()).join('\n'),
    };
    assert.ok(haystacks.logs.length > 10_000, 'the services logged (debug)');
    for (const [where, text] of Object.entries(haystacks)) {
      const lines = text.split('\n').filter((l) => l.includes(SECRET));
      assert.deepEqual(lines.slice(0, 3), [], `${where} show the password`);
    }
    assert.ok(audit.entries.some((e) => e.action === 'camera_create' && e.cameraId === 'cfg-a'));
  });
});
