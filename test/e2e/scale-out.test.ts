/**
 * The cluster grown past one box (docs/adr/0024, 0025), as real processes: Debian's HAProxy in
 * front of two masters and two storage gateways, Debian's Mosquitto, one PostgreSQL, a shared
 * NAS folder and export folder, two real agents recording a camera each, the dashboard in
 * Chromium.
 *
 * - The dashboard behind HAProxy shows both nodes online and the events of both cameras pushed
 *   live, whichever master stored them.
 * - kill -9 of the master the browser is on: the page's socket is live again on the other within
 *   5 s, the live view plays on, an export that master was running is taken over and completes,
 *   a ping gets its reply.
 * - kill -9 of a gateway while both agents record: they go on uploading to the other (one by its
 *   list of gateways, one through HAProxy); the killed gateway started again drains its buffer;
 *   every segment recorded is indexed once, its bytes read through the survivor match its
 *   sha256, the footage has no gap, and the whole range plays through the survivor.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { createPrismaClient } from '@cctv/db';
import type { ExportJobView } from '@cctv/protocol';
import { gatewayPaths } from '@cctv/protocol/gateway-routes';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { testGrant } from '../support/grants.ts';
import { HAPROXY, startHaproxy } from '../support/haproxy.ts';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
  waitHealthy,
} from '../support/index.ts';
import { MOSQUITTO, startMosquitto } from '../support/mosquitto.ts';
import { ensureRtspServerAvailable, startRtspServer } from '../support/rtsp-server.ts';
import { signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';
import { agentTlsConfig } from '../support/tls.ts';

const run = promisify(execFile);
const NODES = ['scale-a', 'scale-b'] as const;
const cameraOf = (node: string) => `${node}-cam`;
/** A claim on an export lapses this long after its master stops renewing it. */
const EXPORT_LEASE_S = 4;

const missing = [HAPROXY, MOSQUITTO, CHROMIUM].filter((f) => !existsSync(f));
if (missing.length > 0 && process.env.CI === 'true')
  throw new Error(`scale-out test cannot run: ${missing.join(', ')} missing`);
const skip = missing.length > 0 ? `${missing.join(', ')} missing` : false;

test('several masters and gateways behind HAProxy, each killed once', {
  skip,
  timeout: 600_000,
}, async (t) => {
  ensureDashboardBuild();
  await ensureRtspServerAvailable();
  const dir = await tempDir('cctv-e2e-scale-');
  const db = await startTestDatabase();
  const broker = await startMosquitto();
  const [m1, m2, g1, g2, dashboardPort] = (await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ])) as [number, number, number, number, number];
  const lb = await startHaproxy([
    { name: 'master', servers: [`127.0.0.1:${m1}`, `127.0.0.1:${m2}`] },
    { name: 'gateway', servers: [`127.0.0.1:${g1}`, `127.0.0.1:${g2}`] },
  ]);
  const masterUrl = `https://127.0.0.1:${lb.ports.master}`;
  const gatewayLbUrl = `https://127.0.0.1:${lb.ports.gateway}`;
  const gatewayUrls = [`https://127.0.0.1:${g1}`, `https://127.0.0.1:${g2}`] as const;
  const dashboardUrl = dashboardOrigin(dashboardPort);

  const masterEnv = (n: number, port: number): Record<string, string> => ({
    DATABASE_URL: db.url,
    MQTT_URL: broker.url,
    MASTER_INSTANCE_ID: `scale-master-${n}`,
    MASTER_HTTP_HOST: '127.0.0.1',
    MASTER_HTTP_PORT: String(port),
    MASTER_DATA_DIR: join(dir, `master-${n}`),
    // One cluster: one set of keys, one export folder (on the NAS in a real site).
    MASTER_SESSION_KEY_FILE: join(dir, 'keys', 'session.json'),
    MASTER_GRANT_KEY_FILE: join(dir, 'keys', 'grant.json'),
    MASTER_CAMERA_KEY_FILE: join(dir, 'keys', 'camera-secrets.json'),
    MASTER_EXPORT_DIR: join(dir, 'exports'),
    MASTER_EXPORT_LEASE_S: String(EXPORT_LEASE_S),
    MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    MASTER_TRUST_PROXY: '127.0.0.1,::1',
    MASTER_STALE_AFTER_S: '5',
    MASTER_HEARTBEAT_FLUSH_MS: '250',
    GATEWAY_URL: gatewayLbUrl,
    GATEWAY_PUBLIC_URL: gatewayLbUrl,
    DASHBOARD_PUBLIC_URL: dashboardUrl,
  });
  const gatewayEnv = (n: number, port: number): Record<string, string> => ({
    DATABASE_URL: db.gateway,
    GATEWAY_ID: `scale-gw-${n}`,
    GATEWAY_PEER_URL: `https://127.0.0.1:${port}`,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port),
    GATEWAY_DATA_DIR: join(dir, `gateway-${n}`),
    GATEWAY_NAS_DIR: join(dir, 'nas'),
    DASHBOARD_PUBLIC_URL: dashboardUrl,
  });
  const masters: ServiceProcess[] = [];
  // One after the other: the first makes the first admin and the keys, the second finds them.
  for (const [i, port] of [m1, m2].entries()) {
    const svc = startService('master/src/main.ts', masterEnv(i + 1, port));
    await waitHealthy(svc, `https://127.0.0.1:${port}/healthz`);
    masters.push(svc);
  }
  const gateways: ServiceProcess[] = [
    startService('storage-gateway/src/main.ts', gatewayEnv(1, g1)),
    startService('storage-gateway/src/main.ts', gatewayEnv(2, g2)),
  ];
  for (const [i, g] of gateways.entries()) await waitHealthy(g, `${gatewayUrls[i]}/healthz`);
  const admin = await waitFor('admin signed in through HAProxy', () => signInAdmin(masterUrl), 30_000);

  // The camera: a box crossing a still, noisy scene every 6 s (motion events), played in a loop.
  const clip = join(dir, 'scene.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error'],
    ...['-f', 'lavfi', '-i', 'smptehdbars=s=320x180:r=10', '-f', 'lavfi', '-i', 'color=c=white:s=40x40:r=10'],
    '-filter_complex',
    "[0:v]noise=alls=8:allf=t[bg];[bg][1:v]overlay=x='20+80*(t-2)':y=110:enable='between(t,2,5)'",
    ...['-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p', '-y', clip],
  ]);
  // Served over RTSP as a camera does (gst-rtsp-server), in real time, looped.
  const camera = await startRtspServer({ codec: 'h264', source: 'file', file: clip });
  const agents = new Map<string, ServiceProcess>();
  for (const [i, node] of NODES.entries()) {
    const enrolment = await enrolTestNodeFully(db.url, node);
    const [httpPort, jsmpegPort] = await Promise.all([freePort(), freePort()]);
    // The first agent knows both gateways in order; the second knows HAProxy's address.
    const gateway =
      i === 0
        ? { url: gatewayUrls[0], fallbackUrls: [gatewayUrls[1]], retryPrimaryS: 5 }
        : { url: gatewayLbUrl };
    const config = join(dir, `${node}.yaml`);
    await writeFile(
      config,
      JSON.stringify({
        nodeId: node,
        mqtt: { url: broker.url },
        tls: agentTlsConfig(),
        gateway: { ...gateway, token: enrolment.uploadToken },
        spool: { dir: join(dir, node, 'spool'), minFreeBytes: 0 },
        stateDir: join(dir, node, 'state'),
        httpPort,
        heartbeatIntervalS: 1,
        live: {
          lingerS: 0,
          jsmpeg: { host: '127.0.0.1', port: jsmpegPort, publicUrl: `wss://127.0.0.1:${jsmpegPort}` },
        },
        cameras: [
          {
            id: cameraOf(node),
            name: `Scene ${node}`,
            url: camera.url,
            record: { codec: 'source' },
            detect: {
              motion: {
                endAfterS: 1,
                zones: [
                  {
                    name: 'all',
                    points: [
                      [0, 0],
                      [1, 0],
                      [1, 1],
                      [0, 1],
                    ],
                  },
                ],
              },
              faces: { enabled: false },
            },
          },
        ],
      }),
    );
    agents.set(node, startService('node-agent/src/main.ts', {}, ['--config', config]));
  }
  const recordingFrom = Date.now();

  const dashboard = await openDashboard(masterUrl, dashboardPort);
  const browser: Browser = await launchChromium();
  after(() => browser.close());
  const ctx = await browser.newContext();
  const [name, value] = admin.cookie.split('=') as [string, string];
  await ctx.addCookies([{ name, value, url: dashboard.url }]);
  const metricOf = async (url: string, metric: string) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(metric));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  const masterUrls = [`https://127.0.0.1:${m1}`, `https://127.0.0.1:${m2}`];

  let fleetPage: Page;
  let eventsPage: Page;
  let livePage: Page;
  const pageLog: string[] = [];
  await t.test('the dashboard behind HAProxy shows both nodes online and both cameras’ events', async () => {
    fleetPage = await ctx.newPage();
    await fleetPage.goto(`${dashboard.url}/`);
    for (const node of NODES)
      await fleetPage
        .locator(`[data-testid="node-row"][data-node-id="${node}"][data-state="online"]`)
        .waitFor({ timeout: 90_000 });
    await fleetPage.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
    eventsPage = await ctx.newPage();
    await eventsPage.goto(`${dashboard.url}/events`);
    await eventsPage.locator('[data-testid="live-indicator"][data-state="live"]').waitFor();
    // Pushed while the page is open, from whichever master stored them.
    for (const node of NODES)
      await eventsPage
        .locator(`[data-testid="event-card"][data-camera-id="${cameraOf(node)}"][data-fresh]`)
        .first()
        .waitFor({ timeout: 60_000 });
    const stored = await Promise.all(masterUrls.map((u) => metricOf(u, 'cctv_events_ingested_total')));
    console.log(`events stored per master: ${stored.join(' + ')}`);
  });

  await t.test(
    'kill -9 of the master the browser is on: the page, the live view, an export and a ping carry on',
    async () => {
      livePage = await ctx.newPage();
      livePage.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
      await livePage.goto(`${dashboard.url}/cameras/${cameraOf(NODES[0])}`);
      await livePage
        .locator('[data-testid="live-player"][data-mode="webrtc"][data-state="playing"]')
        .waitFor({ timeout: 30_000 })
        .catch(async (err: Error) => {
          const player = livePage.locator('[data-testid="live-player"]');
          throw new Error(
            `${err.message}\n${await player.getAttribute('data-mode')} ${await player.getAttribute('data-state')}: ${await player.textContent()}\n--- page ---\n${pageLog.join('\n')}\n--- agent ---\n${agents
              .get(NODES[0])
              ?.output()
              .split('\n')
              .filter((l) => /live|webrtc|session|offer/i.test(l))
              .slice(-30)
              .join('\n')}`,
          );
        });
      // An export of 16 s with moving things blurred (decoded and encoded again: it takes a while),
      // claimed by the master that took the request.
      // 16 s of footage already indexed.
      const prisma = createPrismaClient(db.url, 1);
      onCleanup(() => prisma.$disconnect());
      const indexed = () =>
        prisma.segment.findMany({
          where: { cameraId: cameraOf(NODES[1]) },
          orderBy: { startAt: 'asc' },
          take: 1,
        });
      await waitFor(
        '16 s of footage',
        async () => {
          const [oldest] = await indexed();
          return oldest !== undefined && Date.now() - oldest.startAt.getTime() > 24_000;
        },
        60_000,
        500,
      );
      const from = ((await indexed())[0]?.startAt.getTime() ?? 0) + 2000;
      const to = from + 16_000;
      const res = await admin.postJson('/api/exports', {
        cameraId: cameraOf(NODES[1]),
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        blurMotion: true,
      });
      assert.equal(res.status, 202, await res.clone().text());
      const job = (await res.json()) as ExportJobView;
      const row = await prisma.exportJob.findUniqueOrThrow({ where: { id: job.id } });
      assert.equal(row.state, 'running');
      // The master HAProxy sends this client to took the export, and holds the browser's sockets.
      const target = row.claimedBy === 'scale-master-1' ? 0 : 1;
      const survivorUrl = masterUrls[1 - target] as string;
      const wsClients = await Promise.all(masterUrls.map((u) => metricOf(u, 'cctv_ws_clients')));
      assert.ok(
        (wsClients[target] ?? 0) > 0,
        `the browser is on ${row.claimedBy}: sockets ${wsClients.join(', ')}`,
      );

      const killedAt = Date.now();
      await masters[target]?.kill('SIGKILL');
      await waitFor(
        'the fleet page notices',
        async () =>
          (await fleetPage.locator('[data-testid="live-indicator"]').getAttribute('data-state')) !== 'live',
        5000,
        20,
      ).catch(() => {});
      await fleetPage
        .locator('[data-testid="live-indicator"][data-state="live"]')
        .waitFor({ timeout: 10_000 });
      const reconnectMs = Date.now() - killedAt;
      console.log(`fleet page live again ${reconnectMs} ms after kill -9 of its master`);
      assert.ok(reconnectMs <= 5000, `reconnected within 5 s: ${reconnectMs} ms`);
      assert.ok((await metricOf(survivorUrl, 'cctv_ws_clients')) > 0, 'the page is on the survivor');
      // The fleet still moves: the nodes stay online, pushed by the survivor.
      for (const node of NODES)
        await fleetPage
          .locator(`[data-testid="node-row"][data-node-id="${node}"][data-state="online"]`)
          .waitFor();

      // A ping through HAProxy, answered through the survivor.
      const ping = await admin.postJson(`/api/nodes/${NODES[0]}/commands/ping`, {});
      assert.equal(ping.status, 200, await ping.clone().text());

      // The live view plays on: its media comes from the agent, not through the master.
      const frames = async () =>
        Number(await livePage.locator('[data-testid="live-player"]').getAttribute('data-frames'));
      const playerState = async () =>
        `${await livePage.locator('[data-testid="live-player"]').getAttribute('data-state')} ${await frames()} frames`;
      const before = await frames();
      await waitFor(
        'live frames after the kill',
        async () => (await frames()) > before + 5,
        20_000,
        100,
      ).catch(async (err: Error) => {
        throw new Error(
          `${err.message}: ${await playerState()}\n--- page ---\n${pageLog.join('\n')}\n--- agent ---\n${agents.get(NODES[0])?.output().slice(-4000)}`,
        );
      });
      console.log(
        `live view after the kill: ${before} → ${await frames()} frames, ${Date.now() - killedAt} ms after the kill`,
      );

      // The export is taken over once its lease lapses, and completes.
      await waitFor(
        'export done',
        async () => (await admin.getJson<ExportJobView>(`/api/exports/${job.id}`)).state === 'done',
        180_000,
        500,
      ).catch(async (err: Error) => {
        const now = await prisma.exportJob.findUnique({ where: { id: job.id } });
        throw new Error(
          `${err.message}: ${JSON.stringify(now, (_, v) => (typeof v === 'bigint' ? String(v) : v))}\n${masters[
            1 - target
          ]
            ?.output()
            .split('\n')
            .filter((l) => /export/i.test(l))
            .slice(-20)
            .join('\n')}`,
        );
      });
      const done = await prisma.exportJob.findUniqueOrThrow({ where: { id: job.id } });
      console.log(`export taken over by ${done.claimedBy} at attempt ${done.attempts}, ${done.bytes} bytes`);
      assert.equal(done.claimedBy, `scale-master-${2 - target}`);
      assert.equal(done.attempts, 2);
      const file = await admin.fetch(`/api/exports/${job.id}/file`);
      assert.equal(file.status, 200);
      const mp4 = join(dir, 'export.mp4');
      await writeFile(mp4, Buffer.from(await file.arrayBuffer()));
      const { stdout } = await run('ffprobe', [
        ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', mp4],
      ]);
      // The segments that start in the range, whole (the gateway's VOD playlist of the range).
      const inRange = await prisma.segment.findMany({
        where: { cameraId: cameraOf(NODES[1]), startAt: { gte: new Date(from), lt: new Date(to) } },
      });
      const expected = inRange.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
      const seconds = Number(stdout);
      assert.ok(
        expected > 12 && Math.abs(seconds - expected) < 0.5,
        `the export holds the ${expected} s recorded in its range: ${stdout.trim()} s`,
      );
    },
  );

  await t.test('kill -9 of a gateway under recording: failover, nothing lost, all of it plays', async () => {
    const [gwA] = gateways as [ServiceProcess, ServiceProcess];
    const segmentsAt = async (gatewayId: string) =>
      (await prismaGateway.segment.count({ where: { gatewayId } })) as number;
    const prismaGateway = createPrismaClient(db.url, 1);
    onCleanup(() => prismaGateway.$disconnect());
    // The first agent prefers gateway 1.
    await waitFor('segments at gateway 1', async () => (await segmentsAt('scale-gw-1')) > 2, 60_000);
    const killedAt = Date.now();
    await gwA.kill('SIGKILL');
    const atB = await segmentsAt('scale-gw-2');
    for (const node of NODES)
      await waitFor(
        `${node} uploads to gateway 2`,
        async () =>
          (await prismaGateway.segment.count({
            where: {
              cameraId: cameraOf(node),
              gatewayId: 'scale-gw-2',
              startAt: { gte: new Date(killedAt) },
            },
          })) > 0,
        30_000,
      );
    console.log(`both agents on gateway 2 within ${Date.now() - killedAt} ms (${atB} segments there before)`);
    await new Promise((r) => setTimeout(r, 6000));
    // Gateway 1 back on its own disk: whatever it had not moved reaches the NAS.
    gateways[0] = startService('storage-gateway/src/main.ts', gatewayEnv(1, g1));
    await waitHealthy(gateways[0], `${gatewayUrls[0]}/healthz`);
    await waitFor(
      'gateway 1 drained to the NAS',
      async () =>
        (await prismaGateway.segment.count({ where: { gatewayId: 'scale-gw-1', location: 'buffer' } })) === 0,
      60_000,
    );
    const upTo = Date.now() - 6000;

    for (const node of NODES) {
      const camera = cameraOf(node);
      const rows = await prismaGateway.segment.findMany({
        where: { cameraId: camera, startAt: { gte: new Date(recordingFrom), lte: new Date(upTo) } },
        orderBy: { startAt: 'asc' },
      });
      assert.ok(rows.length > 10, `${camera}: ${rows.length} segments`);
      assert.ok(
        rows.every((r) => r.location === 'nas'),
        `${camera}: every segment on the NAS`,
      );
      // No gap: each segment starts where the one before ended (ffmpeg's timestamps, ±0.5 s).
      let gaps = 0;
      for (let i = 1; i < rows.length; i++) {
        const prev = rows[i - 1] as (typeof rows)[number];
        const gap =
          (rows[i] as (typeof rows)[number]).startAt.getTime() - (prev.startAt.getTime() + prev.durationMs);
        if (gap > 500) gaps++;
      }
      assert.equal(gaps, 0, `${camera}: the footage is continuous across the failover`);
      // Every segment read through the survivor is what the agent sent.
      const grant = await testGrant(db.url, { camera, scope: 'vod' });
      for (const r of rows) {
        const res = await fetch(`${gatewayUrls[1]}${gatewayPaths.segment(grant, camera, r.name)}`);
        assert.equal(res.status, 200, `${camera}/${r.name}`);
        const sha = createHash('sha256')
          .update(Buffer.from(await res.arrayBuffer()))
          .digest('hex');
        assert.equal(sha, r.sha256, `${camera}/${r.name} read through gateway 2`);
      }
      // The whole range plays through the survivor.
      const first = rows[0] as (typeof rows)[number];
      const last = rows.at(-1) as (typeof rows)[number];
      const range = {
        from: first.startAt.toISOString(),
        // Short of the end: the segment recorded next starts right there.
        to: new Date(last.startAt.getTime() + last.durationMs - 500).toISOString(),
      };
      const playlist = `${gatewayUrls[1]}${gatewayPaths.vodPlaylist(grant, camera, range)}`;
      const { stdout } = await run('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'format=duration',
        '-of',
        'csv=p=0',
        playlist,
      ]);
      const expected = (last.startAt.getTime() + last.durationMs - first.startAt.getTime()) / 1000;
      console.log(
        `${camera}: ${rows.length} segments, sha256 all match, ${Number(stdout).toFixed(1)} s of ${expected.toFixed(1)} s play through gateway 2`,
      );
      assert.ok(
        Math.abs(Number(stdout) - expected) < 2,
        `${camera}: the whole range plays: ${stdout.trim()} s of ${expected} s`,
      );
    }
    // Each segment indexed once (cameraId, name is unique) and no refusal of the agents' uploads.
    for (const [node, agent] of agents)
      assert.doesNotMatch(agent.output(), /segment refused/, `${node} had no segment refused`);
  });
});
