/**
 * The admin pages in a real browser against a real master: an admin creates a viewer with one
 * camera on /settings/users (and sees the master's refusal of a taken name), the viewer signs
 * in and sees only that camera on the fleet page; the creation shows on /settings/audit and in
 * its CSV download; /settings/nodes enrols a node and shows its credentials once. Every page
 * fits a phone (390×844) without sideways scrolling, its controls at least 40 px high, its
 * pages behind the menu button.
 * Screenshots of the settings pages at 1920×1080 and 390×844, and of the fleet on the phone,
 * land in .artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, waitForPage } from '../support/browser.ts';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { registerTestCameras } from '../support/enrol.ts';
import { freePort, repoRoot, startService, startTestDatabase, tempDir, waitFor } from '../support/index.ts';
import { signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const shots = join(repoRoot, '.artifacts', 'screenshots');
const DESKTOP = { width: 1920, height: 1080 };
const PHONE = { width: 390, height: 844 };
const VIEWER = { username: 'e2e-guard', password: 'guard-password-for-e2e-7' };

assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
ensureDashboardBuild();

const db = await startTestDatabase();
// Two nodes with a camera each, registered as their hellos would: no agent needed to list them.
await registerTestCameras(db.url, 'e2e-gate-node', ['gate-cam']);
await registerTestCameras(db.url, 'e2e-yard-node', ['yard-cam']);
const [httpPort, mqttPort, dashboardPort] = (await Promise.all([freePort(), freePort(), freePort()])) as [
  number,
  number,
  number,
];
const masterUrl = `https://127.0.0.1:${httpPort}`;
const master = startService('master/src/main.ts', {
  DATABASE_URL: db.url,
  MASTER_HTTP_PORT: String(httpPort),
  MQTT_PORT: String(mqttPort),
  MASTER_DATA_DIR: await tempDir('cctv-e2e-admin-'),
  MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  MASTER_TRUST_PROXY: '127.0.0.1,::1',
  MASTER_ENROL_API: 'on',
  DASHBOARD_PUBLIC_URL: dashboardOrigin(dashboardPort),
});
await waitFor('master HTTP API', () => signInAdmin(masterUrl), 30_000).catch((err: Error) => {
  throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
});
const dashboard = await openDashboard(masterUrl, dashboardPort);
const base = dashboard.url;

const browser: Browser = await launchChromium();
after(() => browser.close());
await mkdir(shots, { recursive: true });

/** A signed-in browser context of `size`, for `username`. */
async function signedIn(username: string, password: string, size = DESKTOP): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: size, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`, { timeout: 15_000 });
  await page.close();
  return context;
}

/** Opens `path`, failing the test on an uncaught page error. */
async function open(context: BrowserContext, path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${base}${path}`);
  return { page, errors };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

/** Nothing sticks out sideways: the page is no wider than the phone (else: what sticks out). */
async function widerThanPhone(page: Page, what: string): Promise<string | null> {
  const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  if (width <= PHONE.width) return null;
  const culprits = (await page.evaluate(`[...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > ${PHONE.width} + 1)
    .slice(0, 5)
    .map((e) => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))`)) as string[];
  return `${what} is ${width} px wide on a ${PHONE.width} px phone (${culprits.join(', ')})`;
}

async function assertFitsPhone(page: Page, what: string): Promise<void> {
  const problem = await widerThanPhone(page, what);
  assert.equal(problem, null);
}

const admin = await signedIn('admin', TEST_ADMIN_PASSWORD);

test('an admin creates a viewer with one camera; the master refuses a taken name', {
  timeout: 60_000,
}, async () => {
  const { page, errors } = await open(admin, '/users');
  await page.waitForURL(`${base}/settings/users`);
  const form = page.getByTestId('user-create');
  await form.getByLabel('Username').fill(VIEWER.username);
  await form.getByLabel('Password').fill(VIEWER.password);
  await form.getByLabel('Role').selectOption('viewer');
  await form.getByLabel(/^gate-cam/).check();
  await form.getByRole('button', { name: 'Create user' }).click();
  const row = page.getByTestId(`user-${VIEWER.username}`);
  await row.waitFor({ timeout: 10_000 });
  assert.equal((await row.getByTestId('user-role').textContent())?.trim(), 'viewer');
  assert.equal((await row.getByTestId('user-cameras').textContent())?.trim(), 'gate-cam');

  await form.getByLabel('Username').fill(VIEWER.username);
  await form.getByLabel('Password').fill(VIEWER.password);
  await form.getByLabel('All cameras').check();
  await form.getByRole('button', { name: 'Create user' }).click();
  const status = page.getByTestId('user-create-status');
  await waitFor('the refusal', async () => ((await status.textContent()) ?? '').includes('taken'), 10_000);
  assert.equal(await status.getAttribute('role'), 'alert');
  await shot(page, 'settings-users-1920');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the viewer sees only their camera on the fleet page, also on a phone', {
  timeout: 60_000,
}, async () => {
  const viewer = await signedIn(VIEWER.username, VIEWER.password, PHONE);
  try {
    const { page, errors } = await open(viewer, '/');
    await page.waitForSelector('[data-testid="live-indicator"][data-state="live"]', { timeout: 15_000 });
    await page.waitForSelector('[data-testid="camera-item"]', { timeout: 10_000 });
    const cameras = await page
      .getByTestId('camera-item')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-camera-id')));
    assert.deepEqual(cameras, ['gate-cam']);
    assert.equal(await page.locator('nav.top a[href="/settings"]').count(), 0, 'a viewer has no settings');
    await assertFitsPhone(page, 'the fleet page');
    await shot(page, 'fleet-390');
    assert.deepEqual(errors, []);
  } finally {
    await viewer.close();
  }
});

test('the audit log lists the creation and downloads it as CSV', { timeout: 60_000 }, async () => {
  const { page, errors } = await open(admin, '/settings/audit');
  // A choice made before the page is hydrated is reset by it (its first render takes the
  // filters of the address): chosen again until the address carries it.
  for (let attempt = 1; ; attempt++) {
    await page.getByTestId('audit-filters').getByLabel('Action').selectOption('user_create');
    await page.getByTestId('audit-filters').getByRole('button', { name: 'Apply' }).click();
    const applied = await page.waitForURL(/action=user_create/, { timeout: 5000 }).then(
      () => true,
      () => false,
    );
    if (applied) break;
    assert.ok(attempt < 5, 'the filter never reached the address');
  }
  const entry = page.locator('[data-testid="audit-entry"][data-action="user_create"]', {
    hasText: VIEWER.username,
  });
  await entry.waitFor({ timeout: 10_000 });
  assert.equal(
    await page.locator('[data-testid="audit-entry"]:not([data-action="user_create"])').count(),
    0,
    'the filter left other actions in',
  );
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('audit-csv').click(),
  ]);
  const path = await download.path();
  assert.ok(path, 'the download was not saved');
  const csv = await readFile(path, 'utf8');
  const lines = csv.trim().split('\r\n');
  assert.equal(lines[0], 'id,at,username,action,cameraId,nodeId,ip,detail');
  assert.ok(
    lines.slice(1).every((l) => l.includes(',user_create,')),
    'the CSV holds other actions',
  );
  assert.ok(
    lines.some((l) => l.includes(VIEWER.username)),
    `the creation is not in the CSV:\n${csv}`,
  );
  assert.match(download.suggestedFilename(), /^audit-.*\.csv$/);
  await shot(page, 'settings-audit-1920');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the nodes page lists the nodes and enrols one, its credentials shown once', {
  timeout: 60_000,
}, async () => {
  const { page, errors } = await open(admin, '/settings/nodes');
  await page.locator('[data-testid="node-admin-row"][data-node-id="e2e-gate-node"]').waitFor();
  const enrol = page.getByTestId('node-enrol');
  await enrol.getByLabel('Node id').fill('e2e-new-node');
  await enrol.getByRole('button', { name: 'Enrol' }).click();
  const vars = page.getByTestId('issued-host-vars');
  await vars.waitFor({ timeout: 10_000 });
  assert.match((await vars.textContent()) ?? '', /node_agent_mqtt_password: "[A-Za-z0-9_-]{43}"/);
  assert.match((await page.getByTestId('issued-agent-yaml').textContent()) ?? '', /nodeId: e2e-new-node/);
  await shot(page, 'settings-nodes-1920');
  await enrol.getByLabel('Node id').fill('e2e-new-node');
  await enrol.getByRole('button', { name: 'Enrol' }).click();
  await enrol.getByRole('alert').filter({ hasText: 'already enrolled' }).waitFor({ timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('every page fits a phone, its pages behind the menu button', { timeout: 120_000 }, async () => {
  const phone = await signedIn('admin', TEST_ADMIN_PASSWORD, PHONE);
  try {
    const pages = ['/', '/wall', '/events', '/timeline', '/cameras/gate-cam', '/settings/users'];
    pages.push('/settings/audit', '/settings/nodes');
    const tooWide: string[] = [];
    const tooSmall: string[] = [];
    for (const path of pages) {
      const { page, errors } = await open(phone, path);
      // Live players and sockets keep the network busy: the page's first render is what counts.
      await page.locator('main').waitFor();
      await page.waitForTimeout(1500);
      const problem = await widerThanPhone(page, path);
      if (problem) tooWide.push(problem);
      const small = (await page.evaluate(`[...document.querySelectorAll(
          'main button, main select, main input:not([type=checkbox]):not([type=range]), nav.top button')]
        .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().height < 40)
        .map((e) => e.tagName.toLowerCase() + ' ' + (e.textContent || e.getAttribute('name') || '').trim().slice(0, 20))`)) as string[];
      if (small.length > 0) tooSmall.push(`${path}: ${small.join(', ')}`);
      const menu = page.getByTestId('menu-button');
      assert.ok(await menu.isVisible(), `${path}: no menu button`);
      const box = await menu.boundingBox();
      assert.ok(box && box.height >= 40, `${path}: the menu button is ${box?.height} px high`);
      assert.equal(
        await page.locator('nav.top a[href="/events"]').isVisible(),
        false,
        `${path}: links shown`,
      );
      if (path.startsWith('/settings/')) await shot(page, `${path.slice(1).replace('/', '-')}-390`);
      if (path === '/') {
        await menu.click();
        await page.locator('nav.top a[href="/settings"]').click();
        await page.waitForURL(/\/settings\//);
        await waitForPage(page, `!document.querySelector('#top-menu[data-open="true"]')`);
      }
      assert.deepEqual(errors, [], path);
      await page.close();
    }
    assert.deepEqual(tooWide, []);
    assert.deepEqual(tooSmall, [], 'controls under 40 px high');
  } finally {
    await phone.close();
  }
});
