/**
 * Alerts in a real browser against a real master (PostgreSQL, its broker) and a real webhook
 * receiver: an admin adds a webhook channel (its test send arrives, signed) and a detection
 * rule with a schedule on /settings/alerts, and disables the built-in one; an event published
 * by an enrolled node's MQTT client rings the bell and shows on /alerts, live; acknowledging it
 * there clears the bell; the refused delivery is a dead letter that a retry delivers; a browser
 * opened afterwards, on a phone, reads the same alert from the master, acknowledged, and the
 * page fits the phone's width.
 * Screenshots of /settings/alerts and /alerts at 1920×1080 and /alerts at 390×844 land in
 * .artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { dashboardOrigin, ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNode, registerTestCameras } from '../support/enrol.ts';
import {
  freePort,
  onCleanup,
  repoRoot,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
} from '../support/index.ts';
import { signInAdmin, TEST_ADMIN_PASSWORD } from '../support/session.ts';

const shots = join(repoRoot, '.artifacts', 'screenshots');
const DESKTOP = { width: 1920, height: 1080 };
const PHONE = { width: 390, height: 844 };
const NODE = 'e2e-alert-node';
const CAMERA = 'alert-gate-cam';
const SECRET = 'e2e-webhook-secret-0123456789';
const TIME_ZONE = 'Europe/Berlin';

assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
ensureDashboardBuild();

/** A webhook receiver that checks each signature and answers `status` (400: a refusal). */
const received: { type: string; alertId: string | null }[] = [];
let status = 200;
const hook = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const ts = String(req.headers['x-cctv-timestamp']);
    const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
    if (req.headers['x-cctv-signature'] !== expected) {
      res.writeHead(401).end('bad signature');
      return;
    }
    if (status === 200) {
      const n = JSON.parse(body) as { type: string; alert?: { id: string } };
      received.push({ type: n.type, alertId: n.alert?.id ?? null });
    }
    res.writeHead(status).end();
  });
});
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
onCleanup(() => new Promise<void>((r) => hook.close(() => r())));
const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/cctv`;

const db = await startTestDatabase();
await registerTestCameras(db.url, NODE, [CAMERA]);
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
  MASTER_DATA_DIR: await tempDir('cctv-e2e-alerts-'),
  MASTER_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  MASTER_TRUST_PROXY: '127.0.0.1,::1',
  MASTER_ALERT_EVAL_MS: '300',
  MASTER_ALERT_RETRY_BASE_MS: '200',
  DASHBOARD_PUBLIC_URL: dashboardOrigin(dashboardPort),
});
const api = await waitFor('master HTTP API', () => signInAdmin(masterUrl), 30_000).catch((err: Error) => {
  throw new Error(`${err.message}\n--- master output ---\n${master.output()}`);
});
const dashboard = await openDashboard(masterUrl, dashboardPort);
const base = dashboard.url;

// The node's own MQTT login, as its agent would have after enrolment.
const agent = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
  clientId: `agent-${NODE}`,
  username: NODE,
  password: await enrolTestNode(db.url, NODE),
  reconnectPeriod: 0,
});
onCleanup(() => agent.endAsync(true));

const browser: Browser = await launchChromium();
after(() => browser.close());
await mkdir(shots, { recursive: true });

async function signedIn(size: { width: number; height: number }): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: size, timezoneId: TIME_ZONE });
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`, { timeout: 15_000 });
  await page.close();
  return context;
}

async function open(context: BrowserContext, path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${base}${path}`);
  return { page, errors };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const countIs = (n: number) => `[data-testid="alerts-count"][data-count="${n}"]`;

const admin = await signedIn(DESKTOP);
let eventId = '';
let alertId = '';

test('an admin adds a webhook channel and a scheduled detection rule on /settings/alerts', {
  timeout: 60_000,
}, async () => {
  const { page, errors } = await open(admin, '/settings/alerts');
  await page.getByTestId('alert-rules').waitFor();

  // A channel: the master refuses it without a secret, then takes it; its test send arrives.
  const channelForm = page.getByTestId('channel-create');
  await channelForm.getByLabel('Name', { exact: true }).fill('Control room');
  await channelForm.getByLabel('URL').fill(hookUrl);
  await channelForm.getByRole('button', { name: 'Add channel' }).click();
  const createStatus = channelForm.getByTestId('channel-create-status');
  await waitFor('the refusal', async () => /needs a secret/.test((await createStatus.textContent()) ?? ''));
  assert.equal(await createStatus.getAttribute('role'), 'alert');
  await channelForm.getByLabel('Signing secret').fill(SECRET);
  await channelForm.getByRole('button', { name: 'Add channel' }).click();
  const channel = page.locator('[data-testid="channel-row"][data-kind="webhook"]', {
    hasText: 'Control room',
  });
  await channel.waitFor({ timeout: 10_000 });
  assert.match((await channel.textContent()) ?? '', /secret saved/);
  await channel.getByTestId('channel-test').click();
  await waitFor(
    'the test send',
    async () => (await channel.getByTestId('channel-status').textContent()) === 'test sent',
    15_000,
  );
  assert.ok(received.length >= 1, 'the receiver got the test, signed');

  // The built-in "every detection" rule off, so the new rule's alert is the only one.
  const builtIn = page.locator('[data-testid="rule-row"][data-rule-id="detections"]');
  await builtIn.getByTestId('rule-enabled').uncheck();
  await page.locator('[data-testid="rule-row"][data-rule-id="detections"][data-enabled="false"]').waitFor();

  const form = page.getByTestId('rule-create');
  await form.getByLabel('Name', { exact: true }).fill('Gate motion');
  await form.getByTestId('rule-cameras').getByLabel(CAMERA).check();
  await form.getByLabel('Minimum score (0–1)').fill('0.5');
  await form.getByLabel('Only at certain times').check();
  assert.equal(await form.getByLabel('Time zone').inputValue(), TIME_ZONE, "the browser's time zone");
  const window = form.getByTestId('schedule-window');
  for (const day of ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']) await window.getByLabel(day).check();
  await window.getByLabel('From').fill('00:00');
  await window.getByLabel('To').fill('00:00');
  await form.getByLabel('Control room').check();
  await form.getByRole('button', { name: 'Add rule' }).click();
  const rule = page.locator('[data-testid="rule-row"]', { hasText: 'Gate motion' });
  await rule.waitFor({ timeout: 10_000 });
  assert.match(
    (await rule.textContent()) ?? '',
    new RegExp(`${CAMERA}.*score ≥ 0.5.*scheduled \\(${TIME_ZONE}\\)`),
  );
  assert.match((await rule.textContent()) ?? '', /Control room/);
  await shot(page, 'settings-alerts-1920');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an event rings the bell and shows on /alerts live; acknowledging it there clears the bell', {
  timeout: 60_000,
}, async () => {
  const { page, errors } = await open(admin, '/alerts');
  await page.locator('[data-testid="alerts-live"][data-state="live"]').waitFor({ timeout: 15_000 });
  await page.waitForSelector(countIs(0));
  // Deliveries of this alert are refused: they end in the dead-letter list.
  status = 400;
  eventId = randomUUID();
  const startedAt = new Date().toISOString();
  await agent.publishAsync(
    topics.events(NODE),
    JSON.stringify({
      id: eventId,
      cameraId: CAMERA,
      seq: 0,
      type: 'motion',
      phase: 'start',
      startedAt,
      at: startedAt,
      boxes: [{ x: 0.1, y: 0.1, w: 0.2, h: 0.2 }],
      score: 0.8,
      bestAt: startedAt,
      frames: 1,
      zones: [],
    }),
    { qos: 1 },
  );
  await page.waitForSelector(countIs(1), { timeout: 15_000 }).catch(async (err: Error) => {
    const alerts = await (await api.fetch('/api/alerts')).text();
    const summary = await page.getByTestId('alerts-summary').textContent();
    throw new Error(`${err.message}\nalerts: ${alerts}\npage: ${summary}\n${master.output().slice(-3000)}`);
  });
  const row = page.locator('[data-testid="alert-row"][data-kind="detection"]');
  await row.waitFor();
  alertId = (await row.getAttribute('data-alert-id')) ?? '';
  assert.match(alertId, /^[0-9]+$/);
  assert.equal(await row.getAttribute('data-severity'), 'warning');
  assert.equal(await row.getAttribute('data-acked'), 'false');
  assert.equal(await row.getByTestId('alert-link').getAttribute('href'), `/events/${eventId}`);
  assert.match((await row.textContent()) ?? '', /Gate motion/);

  // The bell holds it too, with its kind.
  await page.getByTestId('alerts-bell').click();
  const item = page.locator(`[data-testid="alert-item"][data-alert-id="${alertId}"]`);
  await item.waitFor();
  assert.equal(await item.getAttribute('data-kind'), 'detection');
  assert.equal(await page.getByTestId('alerts-all').getAttribute('href'), '/alerts');
  await page.keyboard.press('Escape');
  await page.getByTestId('alerts-panel').waitFor({ state: 'detached' });

  await row.getByTestId('alert-row-ack').click();
  await page.waitForSelector(countIs(0), { timeout: 10_000 });
  await page.locator(`[data-testid="alert-row"][data-alert-id="${alertId}"][data-acked="true"]`).waitFor();
  assert.match((await row.getByTestId('alert-acked').textContent()) ?? '', /admin/);
  await shot(page, 'alerts-1920');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the refused delivery is a dead letter; a retry delivers it', { timeout: 60_000 }, async () => {
  await waitFor(
    'the dead letter',
    async () => {
      const res = await api.fetch('/api/alert-deliveries?state=dead');
      const page = (await res.json()) as { deliveries: { alertId: string }[] };
      return page.deliveries.some((d) => d.alertId === alertId);
    },
    15_000,
  );
  const { page, errors } = await open(admin, '/alerts');
  const dead = page.locator('[data-testid="dead-letter"][data-state="dead"]', { hasText: 'Control room' });
  await dead.first().waitFor({ timeout: 10_000 });
  assert.match((await dead.first().textContent()) ?? '', /400/);
  status = 200;
  await dead.first().getByRole('button', { name: 'Retry' }).click();
  await page
    .locator('[data-testid="dead-letter"][data-state="pending"]')
    .first()
    .waitFor({ timeout: 10_000 });
  await waitFor('the retried delivery', () => received.some((r) => r.alertId === alertId), 15_000);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a browser opened later, on a phone, shows the same alert acknowledged and fits the width', {
  timeout: 60_000,
}, async () => {
  const phone = await signedIn(PHONE);
  try {
    const { page, errors } = await open(phone, '/alerts');
    const row = page.locator(`[data-testid="alert-row"][data-alert-id="${alertId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.getAttribute('data-acked'), 'true');
    await page.waitForSelector(countIs(0));
    await page.getByTestId('alerts-bell').click();
    const item = page.locator(`[data-testid="alert-item"][data-alert-id="${alertId}"][data-acked="true"]`);
    await item.waitFor({ timeout: 10_000 });
    await page.keyboard.press('Escape');
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(width <= PHONE.width, `/alerts is ${width} px wide on a ${PHONE.width} px phone`);
    await shot(page, 'alerts-390');
    // The settings page fits too.
    await page.goto(`${base}/settings/alerts`);
    await page.getByTestId('alert-rules').waitFor();
    const settingsWidth = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(settingsWidth <= PHONE.width, `/settings/alerts is ${settingsWidth} px wide on a phone`);
    await shot(page, 'settings-alerts-390');
    assert.deepEqual(errors, []);
  } finally {
    await phone.close();
  }
});
