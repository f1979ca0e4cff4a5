/**
 * One cluster for the dashboard's browser tests: PostgreSQL, master (embedded broker), storage
 * gateway, an agent recording its simulated camera, the built dashboard, and Chromium. Events
 * are published over MQTT as the node publishes them, with snapshots uploaded to the gateway
 * as its agent uploads them. Screenshots go to `.artifacts/screenshots/` at 1920×1080.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EventBox, EventMessage, EventType } from '@cctv/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../support/browser.ts';
import { startCentral } from '../../support/central.ts';
import { ensureDashboardBuild, openDashboard } from '../../support/dashboard.ts';
import { enrolTestNodeFully } from '../../support/enrol.ts';
import { grantedUrl } from '../../support/grants.ts';
import {
  freePort,
  onCleanup,
  repoRoot,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
} from '../../support/index.ts';
import { type ApiSession, signIn } from '../../support/session.ts';
import { agentTlsConfig } from '../../support/tls.ts';
import { startRecordedNode } from './recorded-node.ts';

const run = promisify(execFile);
export const SCREENSHOTS = join(repoRoot, '.artifacts', 'screenshots');
export const VIEWPORT = { width: 1920, height: 1080 };

export interface SeedEvent {
  type: EventType;
  startedAt: Date;
  durationMs: number;
  score: number;
  boxes?: EventBox[];
  /** Upload a snapshot (and thumbnail) for it. */
  snapshot?: boolean;
}

export interface DashboardCluster {
  /** A real agent recording its simulated camera (H.265, live view over WebRTC). */
  nodeId: string;
  /** The agent's simulated camera. */
  cameraId: string;
  /**
   * A second node, driven by the test through the real protocols (MQTT status, hello,
   * heartbeats; segment uploads), whose camera has H.264 recordings from a minute before the
   * start onwards, every 2 s: `publishEvent` publishes events for this camera.
   */
  eventNodeId: string;
  eventCameraId: string;
  masterUrl: string;
  gatewayUrl: string;
  /** The master's embedded broker. */
  mqttUrl: string;
  dashboardUrl: string;
  databaseUrl: string;
  admin: ApiSession;
  agent: ServiceProcess;
  browser: Browser;
  /** A browser context signed in as `session` (default: the admin), 1920×1080. */
  context(session?: ApiSession): Promise<BrowserContext>;
  /** Signs in as a new user with this role and camera list (created by the admin). */
  user(username: string, role: 'viewer' | 'operator' | 'admin', cameras?: string[]): Promise<ApiSession>;
  /** Publishes an event of `eventCameraId` (start and end), as its node does; resolves once stored. */
  publishEvent(e: SeedEvent): Promise<string>;
  /** The event node's hello names `cameraId` too: a claim on another node's camera. */
  claimCamera(cameraId: string): Promise<void>;
  /** A full-page 1920×1080 screenshot into `.artifacts/screenshots/<name>.png`. */
  screenshot(page: Page, name: string): Promise<string>;
  /** Master, gateway, agent and dashboard output, for a failing assertion. */
  diagnostics(): string;
}

let started: Promise<DashboardCluster> | null = null;

/** Starts the cluster once per test file (every caller shares it); stopped after the file. */
export function dashboardCluster(): Promise<DashboardCluster> {
  started ??= start();
  return started;
}

async function start(): Promise<DashboardCluster> {
  ensureDashboardBuild();
  const dir = await tempDir('cctv-e2e-dash-');
  const db = await startTestDatabase();
  const jsmpegPort = await freePort();
  const central = await startCentral(db, dir);
  const { masterUrl, gatewayUrl, mqttUrl, mqttsUrl, master, gateway, admin } = central;
  const nodeId = 'e2e-dash-node';

  const enrolment = await enrolTestNodeFully(db.url, nodeId);
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      nodeId,
      mqtt: { url: mqttsUrl, username: nodeId, password: enrolment.secret },
      tls: agentTlsConfig(),
      gateway: { url: gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: join(dir, 'spool') },
      stateDir: join(dir, 'state'),
      heartbeatIntervalS: 1,
      live: {
        lingerS: 0,
        jsmpeg: { host: '127.0.0.1', port: jsmpegPort, publicUrl: `wss://127.0.0.1:${jsmpegPort}` },
      },
      // The simulated camera, without detection: the tests publish the events they need.
      simulatedCamera: { width: 320, height: 180, fps: 10, detect: { enabled: false } },
    }),
  );
  const agent = startService('node-agent/src/main.ts', {}, ['--config', config]);
  const cameraId = `${nodeId}-sim`;
  await waitFor(
    'the simulated camera online with a recorded segment',
    async () => {
      const cams = await admin.getJson<{ id: string; online: boolean }[]>('/api/cameras');
      if (!cams.some((c) => c.id === cameraId && c.online)) return false;
      return (await fetch(await grantedUrl(db.url, gatewayUrl, `/v1/live/${cameraId}.m3u8`))).ok;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- agent output ---\n${agent.output().slice(-6000)}`);
  });

  const dashboard = await openDashboard(masterUrl, central.dashboardPort);
  const dashboardUrl = dashboard.url;
  const browser = await launchChromium();
  onCleanup(() => browser.close());

  const recorded = await startRecordedNode({
    databaseUrl: db.url,
    mqttUrl,
    gatewayUrl,
    nodeId: 'e2e-dash-recorded',
  });
  const eventCameraId = recorded.cameraId;
  const jpeg = join(dir, 'snapshot.jpg');
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x180',
    '-frames:v',
    '1',
    jpeg,
  ]);
  const jpegBytes = await readFile(jpeg);

  const uploadSnapshot = (name: string) => recorded.uploadSnapshot(name, jpegBytes);

  const cluster: DashboardCluster = {
    nodeId,
    cameraId,
    eventNodeId: recorded.nodeId,
    eventCameraId,
    masterUrl,
    gatewayUrl,
    mqttUrl,
    dashboardUrl,
    databaseUrl: db.url,
    admin,
    agent,
    browser,
    async context(session = admin) {
      const ctx = await browser.newContext({ viewport: VIEWPORT });
      const [name, value] = session.cookie.split('=') as [string, string];
      await ctx.addCookies([{ name, value, url: dashboardUrl }]);
      return ctx;
    },
    async user(username, role, cameras) {
      const password = `Pw-${createHash('sha256').update(username).digest('hex').slice(0, 16)}`;
      const res = await admin.postJson('/api/users', {
        username,
        password,
        role,
        cameras: cameras ?? 'all',
      });
      assert.equal(res.status, 201, await res.text());
      return signIn(masterUrl, username, password);
    },
    claimCamera: (cameraId) => recorded.claim([cameraId]),
    async publishEvent(e) {
      const id = randomUUID();
      const endedAt = new Date(e.startedAt.getTime() + e.durationMs);
      const snapshot = e.snapshot
        ? {
            image: await uploadSnapshot(`${id}-1.jpg`),
            thumbnail: await uploadSnapshot(`${id}-1-thumb.jpg`),
            at: e.startedAt.toISOString(),
            width: 320,
            height: 180,
            blurred: false,
          }
        : undefined;
      const base = {
        id,
        type: e.type,
        cameraId: eventCameraId,
        startedAt: e.startedAt.toISOString(),
        boxes: e.boxes ?? [{ x: 0.25, y: 0.25, w: 0.3, h: 0.4, score: e.score }],
        score: e.score,
        bestAt: e.startedAt.toISOString(),
        frames: 10,
      };
      const messages: EventMessage[] = [
        { ...base, seq: 0, phase: 'start', at: base.startedAt },
        {
          ...base,
          seq: 1,
          phase: 'end',
          at: endedAt.toISOString(),
          endedAt: endedAt.toISOString(),
          ...(snapshot ? { snapshot } : {}),
        },
      ];
      await recorded.publishEvents(messages);
      await waitFor(
        `event ${id} stored`,
        async () =>
          (await admin.fetch(`/api/events/${id}`)).ok &&
          (await admin.getJson<{ endedAt: string | null }>(`/api/events/${id}`)).endedAt,
        10_000,
      );
      return id;
    },
    async screenshot(page, name) {
      await mkdir(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path, fullPage: false });
      return path;
    },
    diagnostics: () =>
      [
        ['master', master.output()],
        ['gateway', gateway.output()],
        ['agent', agent.output()],
        ['dashboard', dashboard.output()],
      ]
        .map(([n, out]) => `--- ${n} ---\n${(out ?? '').slice(-3000)}`)
        .join('\n'),
  };
  return cluster;
}
