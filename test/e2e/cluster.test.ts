/**
 * The walking skeleton end to end: master (embedded PostgreSQL on a free port, aedes), storage
 * gateway and one agent with the simulated camera, each as its own process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient, embeddedDatabaseUrl } from '@cctv/db';
import type { ExportJobView, NodeView } from '@cctv/protocol';
import { grantedUrl } from '../support/grants.ts';
import {
  freePort,
  onCleanup,
  repoRoot,
  type ServiceProcess,
  startService,
  tempDir,
  waitFor,
  waitHealthy,
} from '../support/index.ts';
import { type ApiSession, signIn } from '../support/session.ts';

const run = promisify(execFile);
const NODE = 'e2e-node-1';
const CAMERA = `${NODE}-sim`;
const SEGMENT_S = 2;

describe('cluster end to end', () => {
  let masterUrl: string;
  let gatewayUrl: string;
  let nasDir: string;
  /** The gateway's role: the gateway, and reads of its index. */
  let dbUrl: string;
  /** The master's role: test grants published as the master publishes its key. */
  let masterDbUrl: string;
  let agent: ServiceProcess;
  let agentStartedAt: number;

  let admin: ApiSession;
  const nodes = async (): Promise<NodeView[]> => admin.getJson<NodeView[]>('/api/nodes');

  before(async () => {
    const dir = await tempDir('cctv-e2e-');
    const [httpPort, mqttPort, pgPort, gwPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    masterUrl = `https://127.0.0.1:${httpPort}`;
    gatewayUrl = `https://127.0.0.1:${gwPort}`;
    nasDir = join(dir, 'nas');

    const master = startService('master/src/main.ts', {
      MASTER_DATA_DIR: join(dir, 'master'),
      MASTER_HTTP_PORT: String(httpPort),
      MASTER_HTTP_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      MQTT_HOST: '127.0.0.1',
      EMBEDDED_PG_PORT: String(pgPort),
      DATABASE_URL: '',
      GATEWAY_PUBLIC_URL: gatewayUrl,
    });
    await waitHealthy(master, `${masterUrl}/healthz`);
    // The gateway's own role, its password kept by the master's embedded server.
    dbUrl = await embeddedDatabaseUrl(join(dir, 'master', 'postgres'), pgPort, 'gateway');
    masterDbUrl = await embeddedDatabaseUrl(join(dir, 'master', 'postgres'), pgPort, 'master');
    // A first start on an empty database prints the first admin's password on the console, once.
    const printed = /Sign in as "admin" with the password:\s+(\S+)/.exec(master.output())?.[1];
    assert.ok(printed, `the master printed no first admin password:\n${master.output().slice(-2000)}`);
    admin = await signIn(masterUrl, 'admin', printed);
    // Enrol the node as an operator would: the CLI finds the running master's embedded database.
    const enrol = await run(process.execPath, ['--import', 'tsx', 'master/bin/enrol-node.ts', NODE], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: '',
        EMBEDDED_PG_PORT: String(pgPort),
        MASTER_DATA_DIR: join(dir, 'master'),
        LOG_LEVEL: 'warn',
      },
    });
    // One enrolment gives both: the MQTT password and the storage-gateway upload token.
    const password = /password: "(.+)"/.exec(enrol.stdout)?.[1];
    assert.ok(password, `enrol-node printed no password:\n${enrol.stdout}\n${enrol.stderr}`);
    const token = /token: "(.+)"/.exec(enrol.stdout)?.[1];
    assert.ok(token, `enrol-node printed no upload token:\n${enrol.stdout}\n${enrol.stderr}`);
    const gateway = startService('storage-gateway/src/main.ts', {
      DATABASE_URL: dbUrl,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(gwPort),
      GATEWAY_DATA_DIR: join(dir, 'gateway'),
      GATEWAY_NAS_DIR: nasDir,
    });
    await waitFor(
      'gateway healthy',
      async () => (await fetch(`${gatewayUrl}/healthz`)).ok,
      60_000,
      200,
    ).catch((err) => {
      throw new Error(`${err.message}\n${gateway.output()}`);
    });
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      [
        `nodeId: ${NODE}`,
        'mqtt:',
        `  url: mqtt://127.0.0.1:${mqttPort}`,
        `  username: ${NODE}`,
        `  password: "${password}"`,
        'gateway:',
        `  url: ${gatewayUrl}`,
        `  token: "${token}"`,
        'spool:',
        `  dir: ${join(dir, 'spool')}`,
        'heartbeatIntervalS: 1',
        `segmentSeconds: ${SEGMENT_S}`,
        // Never the fixed default live port: another agent or test may hold it.
        'live: { jsmpeg: { port: 0 } }',
        '',
      ].join('\n'),
    );
    agentStartedAt = Date.now();
    agent = startService('node-agent/src/main.ts', {}, ['--config', config]);
  });

  it('shows the agent online within 10 s of its start', async () => {
    const node = await waitFor(
      'agent online at the master with its camera',
      async () =>
        (await nodes()).find(
          (n) => n.id === NODE && n.state === 'online' && n.cameras.some((c) => c.id === CAMERA),
        ),
      10_000,
      100,
    ).catch((err) => {
      throw new Error(`${err.message}\n${agent.output()}`);
    });
    assert.ok(Date.now() - agentStartedAt <= 10_000);
    assert.ok(
      node.cameras.some((c) => c.id === CAMERA),
      'the simulated camera is registered',
    );
  });

  it('relays a ping to the agent through the API and shows it in the audit log', async () => {
    const res = await admin.postJson(`/api/nodes/${NODE}/commands/ping`, { timeoutMs: 5000 });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { ok: boolean; result: { pong: boolean; agentVersion: string } };
    assert.equal(body.result.pong, true);
    const audit = await admin.getJson<{ entries: { action: string; nodeId: string | null }[] }>(
      '/api/audit?action=node_command',
    );
    assert.equal(audit.entries[0]?.nodeId, NODE);
  });

  it('indexes at least 3 segments whose NAS files match their sha256', async () => {
    const db = createPrismaClient(dbUrl, 2);
    onCleanup(() => db.$disconnect());
    const rows = await waitFor(
      '3 segments on the NAS',
      async () => {
        const r = await db.segment.findMany({
          where: { cameraId: CAMERA, location: 'nas' },
          orderBy: { startAt: 'asc' },
        });
        return r.length >= 3 ? r : null;
      },
      60_000,
      500,
    ).catch((err) => {
      throw new Error(`${err.message}\n${agent.output().slice(-4000)}`);
    });
    for (const row of rows) {
      const bytes = await readFile(join(nasDir, CAMERA, row.name));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), row.sha256.trim(), row.name);
      assert.equal(bytes.length, row.bytes);
      assert.equal(row.codec, 'hevc');
    }
  });

  it('serves a VOD playlist that ffprobe reads as HEVC of the right duration', async () => {
    const db = createPrismaClient(dbUrl, 2);
    onCleanup(() => db.$disconnect());
    const rows = await db.segment.findMany({ where: { cameraId: CAMERA }, orderBy: { startAt: 'asc' } });
    assert.ok(rows.length >= 3);
    const first = rows[0];
    const last = rows[rows.length - 1];
    assert.ok(first && last);
    const from = new Date(first.startAt.getTime() - 1);
    const to = new Date(last.startAt.getTime() + last.durationMs);
    const expectedS = rows.reduce((s, r) => s + r.durationMs, 0) / 1000;
    const url = await grantedUrl(
      masterDbUrl,
      gatewayUrl,
      `/v1/vod/${CAMERA}.m3u8?from=${from.toISOString()}&to=${to.toISOString()}`,
    );
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_name,codec_tag_string:format=duration',
      '-of',
      'json',
      url,
    ]);
    const probe = JSON.parse(stdout) as { streams: { codec_name: string }[]; format: { duration: string } };
    assert.equal(probe.streams[0]?.codec_name, 'hevc');
    const duration = Number(probe.format.duration);
    assert.ok(
      Math.abs(duration - expectedS) <= SEGMENT_S + 0.5,
      `playlist duration ${duration} s, indexed ${expectedS} s`,
    );
  });

  it('exports the recorded range as an MP4 without re-encoding, audited when asked and downloaded', async () => {
    const db = createPrismaClient(dbUrl, 2);
    onCleanup(() => db.$disconnect());
    const rows = await db.segment.findMany({ where: { cameraId: CAMERA }, orderBy: { startAt: 'asc' } });
    const first = rows[0];
    const last = rows.at(-1);
    assert.ok(first && last);
    const from = new Date(first.startAt.getTime() - 1).toISOString();
    const to = new Date(last.startAt.getTime() + last.durationMs).toISOString();
    const expectedS = rows.reduce((s, r) => s + r.durationMs, 0) / 1000;
    const asked = await admin.postJson('/api/exports', { cameraId: CAMERA, from, to });
    assert.equal(asked.status, 202, await asked.clone().text());
    const job = (await asked.json()) as ExportJobView;
    const done = await waitFor(
      'export done',
      async () => {
        const j = await admin.getJson<ExportJobView>(`/api/exports/${job.id}`);
        if (j.state === 'failed') throw new Error(`export failed: ${j.error}`);
        return j.state === 'done' ? j : null;
      },
      60_000,
      200,
    );
    assert.equal(done.progress, 1);
    const file = await admin.fetch(done.downloadUrl ?? '');
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'video/mp4');
    assert.match(file.headers.get('content-disposition') ?? '', /attachment; filename=".+\.mp4"/);
    const bytes = Buffer.from(await file.arrayBuffer());
    assert.equal(bytes.length, done.bytes);
    const path = join(await tempDir('cctv-export-'), 'export.mp4');
    await writeFile(path, bytes);
    const { stdout } = await run('ffprobe', [
      ...[
        '-v',
        'error',
        '-show_entries',
        'stream=codec_name:format=duration,format_name',
        '-of',
        'json',
        path,
      ],
    ]);
    const probe = JSON.parse(stdout) as { streams: { codec_name: string }[]; format: { duration: string } };
    assert.equal(probe.streams[0]?.codec_name, 'hevc', 'copied, not re-encoded');
    const duration = Number(probe.format.duration);
    assert.ok(Math.abs(duration - expectedS) <= SEGMENT_S + 0.5, `MP4 ${duration} s, indexed ${expectedS} s`);
    const audit = await admin.getJson<{ entries: { action: string; detail: { jobId?: string } }[] }>(
      `/api/audit?camera=${CAMERA}`,
    );
    const actions = audit.entries.filter((e) => e.detail?.jobId === job.id).map((e) => e.action);
    assert.deepEqual(actions.sort(), ['export', 'export_download']);
  });

  it('marks the agent offline within 2 s of a SIGKILL', async () => {
    const t0 = Date.now();
    agent.child.kill('SIGKILL');
    await waitFor(
      'agent offline',
      async () => (await nodes()).find((n) => n.id === NODE)?.state === 'offline',
      2_000,
      50,
    );
    assert.ok(Date.now() - t0 <= 2_000);
  });
});
