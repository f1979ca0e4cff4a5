/**
 * A real agent whose clock is 90 s ahead (Debian's libfaketime preloaded into its process, the
 * monotonic clock left alone so timers keep their pace) measures that against a real master
 * over MQTT: its heartbeat carries clock.offsetMs ≈ +90 000, the master's /api/nodes and
 * /metrics show it, so does the agent's /metrics, and the fleet page highlights it, in the
 * table and in the phone card layout. The agent runs no camera: no ffmpeg under the fake clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type AlertPage, CLOCK_SKEW_WARN_MS, type NodeView } from '@cctv/protocol';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { freePort, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const NODE_ID = 'e2e-clock-node';
const AHEAD_MS = 90_000;
/** The offset is exact to half a loopback round trip; the fake clock itself is not exact to the ms. */
const TOLERANCE_MS = 2000;

/** libfaketime as Debian installs it (the `faketime` package), for this machine's architecture. */
function libfaketime(): string {
  for (const dir of readdirSync('/usr/lib')) {
    const lib = join('/usr/lib', dir, 'faketime/libfaketime.so.1');
    if (existsSync(lib)) return lib;
  }
  throw new Error('libfaketime not found: apt-get install faketime (scripts/bootstrap.mjs installs it)');
}

assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
const fakeTime = libfaketime();
ensureDashboardBuild();

const db = await startTestDatabase();
const [httpPort, mqttPort, dashboardPort, agentHttpPort] = (await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
])) as [number, number, number, number];
const masterUrl = `https://127.0.0.1:${httpPort}`;
const master = startService('master/src/main.ts', {
  DATABASE_URL: db.url,
  MASTER_HTTP_HOST: '127.0.0.1',
  MASTER_HTTP_PORT: String(httpPort),
  MQTT_HOST: '127.0.0.1',
  MQTT_PORT: String(mqttPort),
  MASTER_DATA_DIR: await tempDir('cctv-e2e-clock-master-'),
  MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  MASTER_TRUST_PROXY: '127.0.0.1,::1',
  GATEWAY_PUBLIC_URL: 'https://127.0.0.1:9',
  DASHBOARD_PUBLIC_URL: dashboardOrigin(dashboardPort),
});
const admin: ApiSession = await waitFor('master HTTP API', () => signInAdmin(masterUrl), 30_000).catch(
  (err: Error) => {
    throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
  },
);

const agentDir = await tempDir('cctv-e2e-clock-agent-');
const configPath = join(agentDir, 'agent.yaml');
const enrolment = await enrolTestNodeFully(db.url, NODE_ID);
await writeFile(
  configPath,
  JSON.stringify({
    nodeId: NODE_ID,
    mqtt: { url: `mqtt://127.0.0.1:${mqttPort}`, username: NODE_ID, password: enrolment.secret },
    // Nothing listens there; nothing is recorded to upload either.
    gateway: { url: 'https://127.0.0.1:9', token: enrolment.uploadToken },
    spool: { dir: join(agentDir, 'spool') },
    stateDir: join(agentDir, 'state'),
    heartbeatIntervalS: 1,
    httpPort: agentHttpPort,
    cameras: [],
    live: { enabled: false },
  }),
);
const agent = startService(
  'node-agent/src/main.ts',
  {
    LD_PRELOAD: fakeTime,
    FAKETIME: `+${AHEAD_MS / 1000}s`,
    // Node's timers and performance.now() on the real monotonic clock.
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  },
  ['--config', configPath],
);

const dashboard = await openDashboard(masterUrl, dashboardPort);
const browser: Browser = await launchChromium();
after(() => browser.close());

const diagnostics = () =>
  `--- master ---\n${master.output().slice(-3000)}\n--- agent ---\n${agent.output().slice(-3000)}`;

/** The value of an unlabelled or `node`-labelled gauge line of a /metrics text; null when absent. */
function gauge(text: string, name: string): number | null {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{node="${NODE_ID}"} `) || l.startsWith(`${name} `));
  return line ? Number(line.split(' ').at(-1)) : null;
}

const near = (ms: number) => Math.abs(ms - AHEAD_MS) <= TOLERANCE_MS;

/** The node as the API serves it, once `ready` says so. */
const nodeWhen = (what: string, ready: (n: NodeView) => boolean, timeoutMs: number) =>
  waitFor(
    what,
    async () => {
      const r = await admin.fetch(`/api/nodes/${NODE_ID}`);
      const n = r.ok ? ((await r.json()) as NodeView) : null;
      return n && ready(n) ? n : null;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${diagnostics()}`);
  });

test('the agent really runs 90 s ahead', async () => {
  // Its heartbeat's own time against the master's receive time says so, whatever it measures.
  const node = await nodeWhen('a heartbeat', (n) => n.heartbeat !== null, 30_000);
  assert.ok(node.heartbeat && node.lastHeartbeatAt);
  const ahead = Date.parse(node.heartbeat.at) - Date.parse(node.lastHeartbeatAt);
  assert.ok(near(ahead), `heartbeat time ${ahead} ms from the master's`);
});

test('measures the offset: heartbeat, /api/nodes, master and agent /metrics', async () => {
  const node = await nodeWhen('a heartbeat with a clock', (n) => n.heartbeat?.clock !== undefined, 20_000);
  const clock = node.heartbeat?.clock;
  assert.ok(clock);
  assert.ok(near(clock.offsetMs), `offset ${clock.offsetMs} ms`);
  assert.ok(clock.rttMs >= 0 && clock.rttMs < 1000, `round trip ${clock.rttMs} ms`);
  // Measured on the agent's clock: that one is ahead too.
  assert.ok(Date.parse(clock.measuredAt) > Date.now() + AHEAD_MS - TOLERANCE_MS);
  // No chrony here, and timedatectl without systemd cannot answer: unknown, not an error.
  assert.ok(['chrony', 'timedatectl', null].includes(clock.source));
  if (clock.source === null) assert.equal(clock.synced, null);

  const list = (await (await admin.fetch('/api/nodes')).json()) as NodeView[];
  const listed = list.find((n) => n.id === NODE_ID);
  assert.ok(
    listed?.heartbeat?.clock && near(listed.heartbeat.clock.offsetMs),
    'the node list carries the clock',
  );

  const masterMetrics = await (await fetch(`${masterUrl}/metrics`)).text();
  const masterGauge = gauge(masterMetrics, 'cctv_node_clock_offset_seconds');
  assert.ok(masterGauge !== null && near(masterGauge * 1000), `master gauge ${masterGauge}`);
  const agentMetrics = await (await fetch(`http://127.0.0.1:${agentHttpPort}/metrics`)).text();
  const agentGauge = gauge(agentMetrics, 'cctv_agent_clock_offset_seconds');
  assert.ok(agentGauge !== null && near(agentGauge * 1000), `agent gauge ${agentGauge}`);
});

test('the fleet page shows the offset as a warning, on a desktop and on a phone', async () => {
  for (const viewport of [
    { width: 1600, height: 900 },
    { width: 390, height: 844 },
  ]) {
    const ctx = await browser.newContext({ viewport });
    const [name, value] = admin.cookie.split('=') as [string, string];
    await ctx.addCookies([{ name, value, url: dashboard.url }]);
    const page = await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await page.goto(`${dashboard.url}/`);
      const cell = page.locator(
        `[data-testid="node-row"][data-node-id="${NODE_ID}"] [data-testid="cell-clock"]`,
      );
      await cell.waitFor({ timeout: 15_000 });
      const text = ((await cell.textContent()) ?? '').trim();
      assert.match(text, /^\+(8[89]|9[01])\.\d s/, `clock cell reads "${text}" (${viewport.width} px)`);
      assert.ok(near(Number(await cell.getAttribute('data-value'))));
      assert.ok(AHEAD_MS > CLOCK_SKEW_WARN_MS);
      assert.equal(await cell.getAttribute('data-skewed'), 'true');
      assert.match((await cell.getAttribute('class')) ?? '', /fleet-warn/);
      assert.ok(await cell.isVisible(), `clock cell hidden at ${viewport.width} px`);
      if (viewport.width <= 760) {
        // The card layout names each line by its column.
        const label = await cell.evaluate(
          (el) => el.ownerDocument.defaultView?.getComputedStyle(el, '::before').content,
        );
        assert.equal(label, '"Clock"');
      }
      assert.deepEqual(pageErrors, []);
    } finally {
      await ctx.close();
    }
  }
});

test('the skew raises the clock alert, for the node, with its offset', async () => {
  const found = await waitFor(
    'a clock skew alert',
    async () =>
      (await admin.getJson<AlertPage>(`/api/alerts?kind=clock_skew&node=${NODE_ID}&state=open`)).alerts[0],
    20_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${diagnostics()}`);
  });
  assert.equal(found.ruleId, 'clock-skew');
  assert.match(found.message, /is \+(8[89]|9[01])\.\d s from the master's/);
});
