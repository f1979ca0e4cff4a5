/**
 * The camera settings page in a real browser against a real master, gateway and a master-managed
 * agent: an admin adds a camera served by the test RTSP server (probed first: its codec, size and
 * frame are shown), sees it recording on the fleet page, draws a motion zone over its picture,
 * finds the motion in that zone by searching events by zone, and removes it (its ffmpeg stops on
 * the node). A wrong camera password gets the probe's explanation and saves nothing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type { CameraSettingsList } from '@cctv/protocol';
import { masterPaths } from '@cctv/protocol/master-routes';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { startCentral } from '../support/central.ts';
import { ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { repoRoot, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { ensureRtspServerAvailable, startRtspServer } from '../support/rtsp-server.ts';
import { TEST_ADMIN_PASSWORD } from '../support/session.ts';

const run = promisify(execFile);
const NODE_ID = 'e2e-cams-node';
const CAMERA_ID = 'driveway-cam';
const ZONE = 'driveway';
const CAMERA_USER = 'viewer';
const CAMERA_PASSWORD = 'cam-secret-42';
const shots = join(repoRoot, '.artifacts', 'screenshots');
const DESKTOP = { width: 1920, height: 1080 };
const PHONE = { width: 390, height: 844 };

assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
ensureDashboardBuild();
await ensureRtspServerAvailable();

const dir = await tempDir('cctv-e2e-cams-');
const db = await startTestDatabase();
const central = await startCentral(db, dir);
// A tiny camera (the machine is small) asking for a password; the ball moves all over the picture.
const camera = await startRtspServer({
  codec: 'h264',
  width: 320,
  height: 180,
  fps: 5,
  pattern: 'ball',
  auth: { user: CAMERA_USER, password: CAMERA_PASSWORD },
});
const cameraUrl = camera.url.replace('rtsp://', `rtsp://${CAMERA_USER}@`);

// Master-managed and no cameras in its file: the node records what the master pushes.
const agentDir = await tempDir('cctv-e2e-cams-agent-');
const spoolDir = join(agentDir, 'spool');
const enrolment = await enrolTestNodeFully(db.url, NODE_ID);
const configPath = join(agentDir, 'agent.yaml');
await writeFile(
  configPath,
  JSON.stringify(
    {
      nodeId: NODE_ID,
      management: 'master',
      mqtt: { url: central.mqttUrl, username: NODE_ID, password: enrolment.secret },
      gateway: { url: central.gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: spoolDir, minFreeBytes: 0 },
      stateDir: join(agentDir, 'state'),
      heartbeatIntervalS: 1,
      httpPort: 0,
      live: { jsmpeg: { port: 0 } },
    },
    null,
    2,
  ), // JSON is YAML
);
const agent = startService('node-agent/src/main.ts', {}, ['--config', configPath]);

const dashboard = await openDashboard(central.masterUrl, central.dashboardPort);
const browser = await launchChromium();
after(() => browser.close());
const context: BrowserContext = await browser.newContext({ viewport: DESKTOP });
const pageErrors: string[] = [];

function diagnostics(): string {
  return [
    `--- master ---\n${central.master.output().slice(-4_000)}`,
    `--- agent ---\n${agent.output().slice(-4_000)}`,
    `--- dashboard ---\n${dashboard.output().slice(-2_000)}`,
  ].join('\n');
}

/** Rethrows with the services' output, for a wait that timed out. */
const explain = (err: Error): never => {
  throw new Error(`${err.message}\n${diagnostics()}`);
};

async function openPage(path: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${dashboard.url}${path}`);
  return page;
}

/** A screenshot at desktop and phone sizes (`show` scrolled into view), the page left at desktop size. */
async function screenshots(page: Page, name: string, show?: Locator): Promise<void> {
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}-1920.png`) });
  await page.setViewportSize(PHONE);
  await show?.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, `${name}-390.png`), fullPage: true });
  // As every page on a phone: nothing wider than the screen (the innermost such element is
  // named), controls big enough to touch.
  const misfits = (await page.evaluate(`(() => {
    const wide = (e) => e.getBoundingClientRect().right > ${PHONE.width} + 1;
    return [...document.querySelectorAll('main *')]
      .filter((e) => e.offsetParent !== null && !e.closest('svg, dialog:not([open])'))
      .filter((e) => (wide(e) && ![...e.children].some(wide)) ||
        (e.matches('button, select, input:not([type=checkbox])') && e.getBoundingClientRect().height < 40))
      .map((e) => e.tagName.toLowerCase() + '.' + e.className + ' ' + (e.textContent || '').trim().slice(0, 24));
  })()`)) as string[];
  assert.deepEqual(misfits, [], `${name} on a phone`);
  await page.setViewportSize(DESKTOP);
}

const settings = () => central.admin.getJson<CameraSettingsList>(masterPaths.cameraSettings());

/** ffmpeg processes working on this camera's spool folder on the node. */
async function cameraFfmpeg(): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(join(spoolDir, CAMERA_ID)));
}

/** Fills the add dialog's first fields and probes; the dialog is returned. */
async function addAndProbe(page: Page, password: string): Promise<Locator> {
  await page.getByTestId('camera-add').click();
  const dialog = page.getByTestId('camera-add-dialog');
  await dialog.waitFor();
  await dialog.getByTestId('camera-name-input').fill('Driveway');
  await dialog.getByTestId('camera-id-input').fill(CAMERA_ID);
  await dialog.getByTestId('camera-node').selectOption(NODE_ID);
  await dialog.getByTestId('camera-url').fill(cameraUrl);
  await dialog.getByTestId('camera-password').fill(password);
  // Motion only: face searches would take the small machine's time.
  await dialog.getByTestId('camera-faces').uncheck();
  await dialog.getByTestId('camera-probe').click();
  return dialog;
}

/** Clicks at shares of the picture inside the zone surface (the SVG letterboxes it as the image). */
async function clickPicture(surface: Locator, points: [number, number][], aspect: number): Promise<void> {
  await surface.scrollIntoViewIfNeeded();
  const box = await surface.boundingBox();
  assert.ok(box, 'the zone surface is not visible');
  const width = Math.min(box.width, box.height * aspect);
  const height = width / aspect;
  const left = box.x + (box.width - width) / 2;
  const top = box.y + (box.height - height) / 2;
  for (const [x, y] of points) await surface.page().mouse.click(left + x * width, top + y * height);
}

test('signs in and reaches the camera settings of a master-managed node', { timeout: 90_000 }, async () => {
  const page = await openPage('/settings/cameras');
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${dashboard.url}/settings/cameras`, { timeout: 15_000 });
  // The node is listed once its hello says it is master-managed.
  await waitFor(
    'the node in the camera settings',
    async () => {
      const list = await settings();
      return list.nodes.some((n) => n.id === NODE_ID) ? list : null;
    },
    45_000,
  ).catch(explain);
  await page.reload();
  await page.getByTestId('cameras-count').waitFor();
  assert.equal(await page.getByTestId('cameras-count').getAttribute('data-count'), '0');
  await page.close();
});

test('adds a camera after probing it: codec, size and a frame shown, then saved and recording', {
  timeout: 180_000,
}, async () => {
  const page = await openPage('/settings/cameras');
  const dialog = await addAndProbe(page, CAMERA_PASSWORD);
  const result = dialog.getByTestId('probe-result');
  await result.waitFor({ timeout: 30_000 }).catch(async (err: Error) => {
    const error = await dialog
      .getByTestId('probe-error')
      .textContent()
      .catch(() => null);
    explain(new Error(`${err.message} (probe error: ${error})`));
  });
  assert.equal(await dialog.getByTestId('probe-codec').textContent(), 'h264');
  assert.equal(await dialog.getByTestId('probe-size').textContent(), '320×180');
  assert.match((await dialog.getByTestId('probe-transports').textContent()) ?? '', /TCP/);
  const frameWidth = await dialog
    .getByTestId('probe-snapshot')
    .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
  assert.equal(frameWidth, 320, 'the probe frame did not load');
  await screenshots(page, 'camera-settings-add-probed', result);

  await dialog.getByTestId('camera-save').click();
  await page.getByTestId('cameras-message').waitFor({ timeout: 30_000 });
  await page.locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"]`).waitFor();
  const saved = (await settings()).cameras.find((c) => c.id === CAMERA_ID);
  assert.ok(saved, 'the master did not save the camera');
  assert.equal(saved.hasPassword, true);
  assert.equal(saved.url.includes(CAMERA_PASSWORD), false, 'the URL holds the password');
  assert.equal(saved.detect?.faces?.enabled, false);
  assert.equal(await page.getByText(CAMERA_PASSWORD).count(), 0, 'the page shows the password');
  // The page reads the node's state again until it runs the new version.
  await page
    .locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"] [data-testid="camera-sync"]`)
    .getByText(/in sync/)
    .waitFor({ timeout: 30_000 })
    .catch(explain);
  // Its state comes live from the fleet socket.
  await page
    .locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"] .badge-recording`)
    .waitFor({ timeout: 60_000 })
    .catch(explain);
  await screenshots(page, 'camera-settings-list');

  await page.goto(`${dashboard.url}/`);
  await page
    .locator(`[data-testid="camera-item"][data-camera-id="${CAMERA_ID}"] .badge-recording`)
    .waitFor({ timeout: 90_000 })
    .catch(explain);
  assert.ok((await cameraFfmpeg()).length > 0, 'no ffmpeg on the camera spool');

  // Disabled, the node stops recording it; enabled again, it records again.
  await page.goto(`${dashboard.url}/settings/cameras`);
  const row = page.locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"]`);
  await row.getByTestId('camera-toggle').click();
  await row.getByTestId('camera-enabled-state').getByText('disabled').waitFor({ timeout: 15_000 });
  assert.equal((await settings()).cameras.find((c) => c.id === CAMERA_ID)?.enabled, false);
  await waitFor('no ffmpeg once disabled', async () => (await cameraFfmpeg()).length === 0, 30_000).catch(
    explain,
  );
  await row.getByTestId('camera-toggle').click();
  await waitFor('ffmpeg once enabled', async () => (await cameraFfmpeg()).length > 0, 30_000).catch(explain);
  assert.equal((await settings()).cameras.find((c) => c.id === CAMERA_ID)?.enabled, true);
  await page.close();
});

test('draws a motion zone over the picture and finds the motion in it by zone', {
  timeout: 240_000,
}, async () => {
  const page = await openPage('/settings/cameras');
  await page
    .locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"]`)
    .getByTestId('camera-edit-open')
    .click();
  const edit = page.getByTestId('camera-edit');
  await edit.waitFor();
  // The password is never shown; typed again, the probe gives the editor its frame.
  assert.equal(await edit.getByTestId('camera-password').inputValue(), '');
  assert.equal(await edit.getByTestId('camera-password').getAttribute('placeholder'), 'saved');
  await edit.getByTestId('camera-password').fill(CAMERA_PASSWORD);
  await edit.getByTestId('camera-probe').click();
  await edit.getByTestId('probe-result').waitFor({ timeout: 30_000 });

  const editor = page.getByTestId('zone-editor');
  const surface = editor.getByTestId('zone-surface');
  await editor.locator('.zone-picture').waitFor();
  await clickPicture(
    surface,
    [
      [0.05, 0.05],
      [0.95, 0.05],
      [0.95, 0.95],
      [0.05, 0.95],
    ],
    16 / 9,
  );
  assert.equal(await editor.getByTestId('zone-drawing').getAttribute('data-points'), '4');
  await editor.getByTestId('zone-finish').click();
  await editor.getByTestId('zone-name').fill(ZONE);
  // A mask in its own mode: a corner where motion is ignored.
  await editor.getByTestId('zone-mode-masks').click();
  await clickPicture(
    surface,
    [
      [0.8, 0.01],
      [0.99, 0.01],
      [0.99, 0.15],
    ],
    16 / 9,
  );
  await editor.getByTestId('zone-finish').click();
  await screenshots(page, 'camera-settings-zone-editor', surface);
  await editor.getByTestId('zone-save').click();
  await editor.getByText(/Zones saved/).waitFor({ timeout: 30_000 });

  const saved = (await settings()).cameras.find((c) => c.id === CAMERA_ID);
  const zones = saved?.detect?.motion?.zones ?? [];
  assert.deepEqual(
    zones.map((z) => z.name),
    [ZONE],
  );
  const xs = zones[0]?.points.map((p) => p[0]) ?? [];
  assert.ok(
    Math.min(...xs) < 0.1 && Math.max(...xs) > 0.9,
    `zone points: ${JSON.stringify(zones[0]?.points)}`,
  );
  assert.equal(saved?.detect?.motion?.masks?.length, 1);

  // The ball keeps moving through the zone: an event naming it turns up in the search by zone.
  const cards = await waitFor(
    'a motion event in the zone',
    async () => {
      await page.goto(`${dashboard.url}/events?zones=${ZONE}`);
      await page.getByTestId('events-count').waitFor();
      const found = page.locator('[data-testid="event-card"][data-type="motion"]');
      return (await found.count()) > 0 ? found : null;
    },
    150_000,
    3_000,
  ).catch(explain);
  assert.equal(await page.getByTestId('filter-zones').inputValue(), ZONE);
  const named = await cards.getByTestId('event-zones').allTextContents();
  assert.equal(named.length, await cards.count(), 'an event found by zone names no zone');
  for (const text of named) assert.match(text, new RegExp(ZONE));
  assert.equal(await cards.first().getAttribute('data-camera-id'), CAMERA_ID);

  // The zone over the live view of the camera page.
  await page.goto(`${dashboard.url}/cameras/${CAMERA_ID}`);
  await page.locator(`[data-testid="zone-overlay"] [data-zone-name="${ZONE}"]`).waitFor({ timeout: 15_000 });
  await page.close();
});

test('removes the camera after confirming, and its ffmpeg stops on the node', {
  timeout: 90_000,
}, async () => {
  const page = await openPage('/settings/cameras');
  await page
    .locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"]`)
    .getByTestId('camera-remove')
    .click();
  await page.getByTestId('camera-remove-dialog').getByTestId('camera-remove-confirm').click();
  await page
    .locator(`[data-testid="camera-row"][data-camera-id="${CAMERA_ID}"]`)
    .waitFor({ state: 'detached' });
  assert.equal((await settings()).cameras.length, 0);
  // Each change was a version of the node's configuration: added, disabled, enabled, zones, removed.
  const node = page.locator(`[data-testid="config-node"][data-node-id="${NODE_ID}"]`);
  await node.getByRole('button', { name: 'Versions' }).click();
  const versions = node.locator('[data-testid="node-versions"] li');
  await versions.first().waitFor();
  assert.equal(await versions.count(), 5);
  assert.match((await versions.first().textContent()) ?? '', /current/);
  await waitFor('the camera ffmpeg gone', async () => (await cameraFfmpeg()).length === 0, 30_000).catch(
    explain,
  );
  await page.close();
});

test('a wrong camera password gets the probe error and saves nothing', { timeout: 90_000 }, async () => {
  const page = await openPage('/settings/cameras');
  const before = (await settings()).cameras.length;
  const dialog = await addAndProbe(page, 'not-the-password');
  const error = dialog.getByTestId('probe-error');
  await error.waitFor({ timeout: 30_000 });
  assert.equal(await error.getAttribute('data-code'), 'AUTH_FAILED');
  assert.match((await error.textContent()) ?? '', /refused the user name or password/);
  assert.equal(await dialog.getByTestId('camera-save').isDisabled(), true);
  // Only an explicit choice saves an unprobed camera; it is not taken here.
  assert.equal(await dialog.getByTestId('camera-save-unprobed').isVisible(), true);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await settings()).cameras.length, before);
  assert.equal(await page.getByTestId('camera-row').count(), before);
  assert.deepEqual(pageErrors, []);
  await page.close();
});
