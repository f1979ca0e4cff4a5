/**
 * The dashboard in a real browser against a real master and agent: a visitor signs in through
 * the login form, the fleet page shows the node online, follows it offline over the websocket
 * without a reload when the agent dies, and the camera page renders its player (and a readable
 * error where H.265 cannot play). A viewer limited to another camera sees none of this fleet.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AuditPage, CameraView } from '@cctv/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { freePort, repoRoot, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { type ApiSession, signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const NODE_ID = 'e2e-fleet-node';
const artifacts = join(repoRoot, '.artifacts');
const rowSelector = (state: string) =>
  `[data-testid="node-row"][data-node-id="${NODE_ID}"][data-state="${state}"]`;

// Everything starts at the top level so the helpers' `after` hooks stop it after the file.
assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
ensureDashboardBuild();

const db = await startTestDatabase();
const [httpPort, mqttPort, gatewayPort, dashboardPort] = (await Promise.all([
  freePort(),
  freePort(),
  freePort(),
  freePort(),
])) as [number, number, number, number];
const masterUrl = `https://127.0.0.1:${httpPort}`;
const master = startService('master/src/main.ts', {
  DATABASE_URL: db.url,
  MASTER_HTTP_PORT: String(httpPort),
  MQTT_PORT: String(mqttPort),
  MASTER_DATA_DIR: await tempDir('cctv-e2e-master-'),
  // The empty database gets user `admin` with this password.
  MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  // The dashboard server forwards sign-ins and API calls from this host.
  MASTER_TRUST_PROXY: '127.0.0.1,::1',
  // Playback grants point here; nothing listens, so the player must explain the failure.
  GATEWAY_PUBLIC_URL: `https://127.0.0.1:${gatewayPort}`,
  // Its pages may change things and open the websockets; no other origin may.
  DASHBOARD_PUBLIC_URL: dashboardOrigin(dashboardPort),
});
const admin: ApiSession = await waitFor('master HTTP API', () => signInAdmin(masterUrl), 30_000).catch(
  (err: Error) => {
    throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
  },
);

// No cameras configured: the agent records its simulated camera. Nothing listens on the
// gateway port; uploads just back off, which this test does not look at.
const agentDir = await tempDir('cctv-e2e-agent-');
const configPath = join(agentDir, 'agent.yaml');
// One enrolment gives the MQTT password and the upload token (each enrolment rotates both).
const enrolment = await enrolTestNodeFully(db.url, NODE_ID);
const agentConfig = {
  nodeId: NODE_ID,
  mqtt: {
    url: `mqtt://127.0.0.1:${mqttPort}`,
    username: NODE_ID,
    password: enrolment.secret,
  },
  gateway: { url: `https://127.0.0.1:${gatewayPort}`, token: enrolment.uploadToken },
  spool: { dir: join(agentDir, 'spool') },
  httpPort: 0,
  // Never the fixed default live port: another agent or test may hold it.
  live: { jsmpeg: { port: 0 } },
};
await writeFile(configPath, JSON.stringify(agentConfig, null, 2)); // JSON is YAML
const agent = startService('node-agent/src/main.ts', {}, ['--config', configPath]);

// The websocket host is the dashboard's host: the session cookie set through the dashboard's
// API proxy goes along with the upgrade (cookies ignore ports).
const dashboard = await openDashboard(masterUrl, dashboardPort);
const dashboardUrl = dashboard.url;

const browser: Browser = await launchChromium();
after(() => browser.close());

const newContext = () => browser.newContext({ viewport: { width: 1920, height: 1080 } });
/** The admin's browser: signed in by the first test, its cookie kept for the others. */
const adminContext: BrowserContext = await newContext();

let camera: CameraView | undefined;

/** A fresh page in `context` that fails the test on any uncaught page error. */
async function openPage(
  context: BrowserContext = adminContext,
): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return { page, pageErrors };
}

/** Fills and submits the sign-in form the page is on. */
async function submitLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Asserts the page is the sign-in page, asked to come back to `next`. */
function assertOnLogin(page: Page, next: string): void {
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login', `expected the sign-in page, got ${page.url()}`);
  assert.equal(url.searchParams.get('next'), next);
}

function diagnostics(): string {
  return [
    `--- master ---\n${master.output().slice(-4_000)}`,
    `--- agent ---\n${agent.output().slice(-4_000)}`,
    `--- dashboard ---\n${dashboard.output().slice(-2_000)}`,
  ].join('\n');
}

test('sends a visitor without a session to the sign-in form, refuses a wrong password, then signs in', {
  timeout: 60_000,
}, async () => {
  const { page, pageErrors } = await openPage();
  try {
    await page.goto(dashboardUrl);
    assertOnLogin(page, '/');
    assert.equal(await page.getByTestId('session').count(), 0, 'the sign-in page shows a signed-in user');

    await submitLogin(page, 'admin', 'not-the-admin-password');
    const alert = page.getByRole('alert').filter({ hasText: 'Wrong username or password' });
    await alert.waitFor({ timeout: 10_000 });
    assertOnLogin(page, '/');

    await submitLogin(page, 'admin', TEST_ADMIN_PASSWORD);
    await page.waitForURL(`${dashboardUrl}/`, { timeout: 15_000 });
    assert.equal((await page.getByTestId('session-user').textContent())?.trim(), 'admin');
    assert.equal((await page.getByTestId('session-role').textContent())?.trim(), 'admin');
    const cookies = await adminContext.cookies(dashboardUrl);
    const session = cookies.find((c) => c.name === 'cctv_session');
    assert.ok(
      session?.httpOnly,
      `no httpOnly session cookie on the dashboard host: ${JSON.stringify(cookies)}`,
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
  }
});

test('shows the node online, then offline after the agent dies, without a reload', {
  timeout: 90_000,
}, async () => {
  const { page, pageErrors } = await openPage();
  try {
    await page.goto(dashboardUrl);
    assert.equal(new URL(page.url()).pathname, '/', `not signed in: ${page.url()}`);
    await page.evaluate('window.__fleetMarker = "no-reload"');
    // Document loads only: the client router may rewrite the URL in place after hydration
    // (a same-document navigation), which is not a reload.
    let navigations = 0;
    page.on('domcontentloaded', () => {
      navigations += 1;
    });

    await page.waitForSelector(rowSelector('online'), { timeout: 45_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnostics()}`);
    });
    await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]', { timeout: 10_000 });

    const cameras = await admin.getJson<CameraView[]>('/api/cameras');
    const found = cameras.find((c) => c.nodeId === NODE_ID);
    assert.ok(found, `master lists no camera for ${NODE_ID}: ${JSON.stringify(cameras)}`);
    camera = found;
    await page.waitForSelector(`[data-testid="camera-item"][data-camera-id="${camera.id}"]`, {
      timeout: 15_000,
    });

    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'fleet.png') });

    const killedAt = Date.now();
    await agent.kill('SIGKILL');
    await page.waitForSelector(rowSelector('offline'), { timeout: 10_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${diagnostics()}`);
    });
    const offlineAfterMs = Date.now() - killedAt;
    await page.screenshot({ path: join(artifacts, 'fleet-offline.png') });

    assert.equal(await page.evaluate('window.__fleetMarker'), 'no-reload', 'the page was reloaded');
    assert.equal(navigations, 0, 'the page navigated');
    assert.deepEqual(pageErrors, []);
    console.log(`node shown offline ${offlineAfterMs} ms after the agent was killed`);
  } finally {
    await page.close();
  }
});

test('renders the camera page with its player and a readable playback error', {
  timeout: 60_000,
}, async () => {
  assert.ok(camera, 'the fleet test found no camera');
  const cam = camera;
  const { page, pageErrors } = await openPage();
  try {
    await page.goto(`${dashboardUrl}/cameras/${encodeURIComponent(cam.id)}`);
    const name = page.getByTestId('camera-name');
    await name.waitFor({ timeout: 10_000 });
    assert.equal((await name.textContent())?.trim(), cam.name || cam.id);
    await page.getByTestId('vod-player').waitFor({ state: 'visible', timeout: 10_000 });

    // The playlist comes from the master's playback grant, which the audit log records.
    const src = page.locator('.player .src');
    await src.waitFor({ timeout: 10_000 });
    // Headless Chromium decodes no H.265: the player takes the gateway's H.264 rendition.
    assert.match(
      (await src.textContent()) ?? '',
      // Under a grant for this user, camera and range (the range is in the grant).
      new RegExp(`/v1/g/[^/]+/vod/${cam.id}/h264\\.m3u8$`),
    );
    const audit = await admin.getJson<AuditPage>(
      `/api/audit?user=admin&action=playback&camera=${encodeURIComponent(cam.id)}`,
    );
    assert.ok(audit.entries.length > 0, 'the playback left no audit row');

    // No gateway listens here, so the player must end in a readable error, not a crash.
    const error = page.getByTestId('vod-error');
    await error.waitFor({ timeout: 30_000 });
    assert.equal(await error.getAttribute('data-cause'), 'network');
    assert.match(
      (await error.textContent()) ?? '',
      /Could not load the recording \(networkError: manifestLoadError/,
    );
    await page.screenshot({ path: join(artifacts, 'camera.png') });
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
  }
});

test('a viewer limited to another camera sees none of the fleet and no player', {
  timeout: 60_000,
}, async () => {
  assert.ok(camera, 'the fleet test found no camera');
  const cam = camera;
  const viewer = { username: 'e2e-viewer', password: 'distinct-viewer-pass-42' };
  const created = await admin.postJson('/api/users', { ...viewer, role: 'viewer', cameras: ['other-cam'] });
  assert.equal(created.status, 201, await created.text());

  const context = await newContext();
  const { page, pageErrors } = await openPage(context);
  try {
    await page.goto(dashboardUrl);
    assertOnLogin(page, '/');
    await submitLogin(page, viewer.username, viewer.password);
    await page.waitForURL(`${dashboardUrl}/`, { timeout: 15_000 });
    assert.equal((await page.getByTestId('session-user').textContent())?.trim(), viewer.username);
    assert.equal((await page.getByTestId('session-role').textContent())?.trim(), 'viewer');
    // Live means the master took the viewer's socket and sent its (filtered) snapshot.
    await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]', { timeout: 10_000 });
    assert.equal(await page.getByTestId('node-row').count(), 0, 'the viewer sees a node of the fleet');
    assert.equal(await page.getByTestId('camera-item').count(), 0, 'the viewer sees a camera of the fleet');

    await page.goto(`${dashboardUrl}/cameras/${encodeURIComponent(cam.id)}`);
    const denied = page.getByTestId('camera-denied');
    await denied.waitFor({ timeout: 10_000 });
    assert.match((await denied.textContent()) ?? '', /not in your access list/);
    assert.equal(await page.getByTestId('vod-player').count(), 0, 'the viewer got a player');
    await page.screenshot({ path: join(artifacts, 'camera-denied.png') });
    assert.deepEqual(pageErrors, []);
  } finally {
    await context.close();
  }

  const logins = await admin.getJson<AuditPage>(`/api/audit?user=${viewer.username}&action=login`);
  assert.ok(logins.entries.length > 0, "the viewer's sign-in left no audit row");
  console.log(`viewer sign-in audited from ${logins.entries[0]?.ip ?? 'an unknown address'}`);
});
