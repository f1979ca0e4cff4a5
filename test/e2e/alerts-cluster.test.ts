/**
 * Alerts through a real cluster: a master and a gateway, a real agent analysing a camera (a
 * generated clip with a box moving through a zone), and real receivers: a webhook server that
 * verifies signatures, Debian's OpenSMTPD delivering to a mailbox, Debian's Mosquitto standing
 * in for the site's home automation broker.
 *
 * - A motion event in a rule's zone and schedule sends one webhook, one email with the snapshot
 *   attached and one MQTT message; the events that follow in the rule's cooldown send none, and
 *   a rule whose schedule is another day sends nothing at all.
 * - The agent killed raises "node offline"; the webhook receiver is down for a minute meanwhile
 *   and gets the delivery once after it returns. A browser that opens the dashboard afterwards
 *   shows the alert in its bell; the agent started again resolves it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type {
  AlertChannelView,
  AlertNotification,
  AlertPage,
  AlertRuleInput,
  AlertRuleView,
} from '@cctv/protocol';
import mqtt from 'mqtt';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../support/browser.ts';
import { startCentral } from '../support/central.ts';
import { ensureDashboardBuild, openDashboard } from '../support/dashboard.ts';
import { enrolTestNodeFully } from '../support/enrol.ts';
import {
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
} from '../support/index.ts';
import { MOSQUITTO, startMosquitto } from '../support/mosquitto.ts';
import { smtpServerUnavailable, startSmtpServer } from '../support/smtp-server.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

const run = promisify(execFile);
const SECRET = 'cluster-webhook-secret-0123456789';
const NODE = 'alerts-node';
const CAMERA = 'cam-driveway';
/** How long the webhook receiver stays down while the node is offline. */
const DOWN_MS = 60_000;

const unavailable = smtpServerUnavailable() ?? (existsSync(MOSQUITTO) ? null : `${MOSQUITTO} is missing`);
if (unavailable && process.env.CI === 'true') throw new Error(`alerts end to end cannot run: ${unavailable}`);
const skip = unavailable ?? (existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}`);

test('alerts through a real cluster', { skip }, async (t) => {
  ensureDashboardBuild();
  const dir = await tempDir('cctv-e2e-alerts-');
  const db = await startTestDatabase();
  const central = await startCentral(db, dir, {
    MASTER_ALERT_EVAL_MS: '500',
    MASTER_ALERT_RETRY_BASE_MS: '1000',
    MASTER_ALERT_RETRY_MAX_MS: '4000',
    MASTER_TIME_ZONE: 'UTC',
  });
  const { admin } = central;
  const hook = await startWebhookReceiver(SECRET);
  const smtp = await startSmtpServer();
  const broker = await startMosquitto();
  const homeAutomation = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  onCleanup(() => homeAutomation.endAsync(true));
  const mqttAlerts: AlertNotification[] = [];
  const retained = new Map<string, string>();
  homeAutomation.on('message', (topic, payload) => {
    if (topic === 'site/alerts') mqttAlerts.push(JSON.parse(payload.toString()) as AlertNotification);
    else retained.set(topic, payload.toString());
  });
  await homeAutomation.subscribeAsync(['site/#', 'homeassistant/#'], { qos: 1 });

  const channel = async (body: unknown): Promise<AlertChannelView> => {
    const res = await admin.postJson('/api/alert-channels', body);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as AlertChannelView;
  };
  const webhook = await channel({
    name: 'Control room',
    enabled: true,
    kind: 'webhook',
    settings: { url: hook.url, secret: SECRET },
  });
  const email = await channel({
    name: 'Guards',
    enabled: true,
    kind: 'email',
    settings: {
      host: '127.0.0.1',
      port: smtp.port,
      security: 'none',
      from: `cctv@${smtp.domain}`,
      to: [`guards@${smtp.domain}`],
    },
  });
  const home = await channel({
    name: 'Home Assistant',
    enabled: true,
    kind: 'mqtt',
    settings: { url: broker.url, topicPrefix: 'site', discoveryPrefix: 'homeassistant', homeAssistant: true },
  });
  const rule = async (input: AlertRuleInput): Promise<AlertRuleView> => {
    const res = await admin.postJson('/api/alert-rules', input);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as AlertRuleView;
  };
  const now = new Date();
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  const driveway = await rule({
    name: 'Driveway',
    enabled: true,
    severity: 'critical',
    channels: [webhook.id, email.id, home.id],
    params: {
      kind: 'detection',
      eventTypes: ['motion'],
      cameras: [CAMERA],
      zones: ['driveway'],
      minScore: 0,
      // Now, in the site's time zone (UTC here), for the next hour.
      schedule: {
        timeZone: 'UTC',
        windows: [{ days: [now.getUTCDay()], from: hhmm(new Date(now.getTime() - 120_000)), to: '24:00' }],
      },
      cooldownS: 3600,
    },
  });
  const otherDay = await rule({
    name: 'Another day',
    enabled: true,
    severity: 'warning',
    channels: [webhook.id],
    params: {
      kind: 'detection',
      eventTypes: ['motion'],
      cameras: [CAMERA],
      zones: [],
      minScore: 0,
      schedule: {
        timeZone: 'UTC',
        windows: [{ days: [(now.getUTCDay() + 3) % 7], from: '00:00', to: '00:00' }],
      },
      cooldownS: 0,
    },
  });
  // The built-in node rule, sent to the webhook, at once.
  const builtIn = (await admin.getJson<AlertRuleView[]>('/api/alert-rules')).find(
    (r) => r.id === 'node-offline',
  );
  assert.ok(builtIn);
  const put = await admin.fetch('/api/alert-rules/node-offline', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: builtIn.name,
      enabled: true,
      severity: builtIn.severity,
      channels: [webhook.id],
      params: { ...builtIn.params, afterS: 0 },
    }),
  });
  assert.equal(put.status, 200, await put.clone().text());

  // The camera: a box crossing a still, noisy 640x360 scene every 6 s, all of it one zone.
  const clip = join(dir, 'driveway.mp4');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error'],
    ...['-f', 'lavfi', '-i', 'smptehdbars=s=640x360:r=10', '-f', 'lavfi', '-i', 'color=c=white:s=60x60:r=10'],
    '-filter_complex',
    "[0:v]noise=alls=8:allf=t[bg];[bg][1:v]overlay=x='40+160*(t-2)':y=220:enable='between(t,2,5)'",
    ...['-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p', '-y', clip],
  ]);
  const enrolment = await enrolTestNodeFully(db.url, NODE);
  const config = join(dir, 'agent.yaml');
  await writeFile(
    config,
    JSON.stringify({
      nodeId: NODE,
      mqtt: { url: central.mqttUrl, username: NODE, password: enrolment.secret },
      gateway: { url: central.gatewayUrl, token: enrolment.uploadToken },
      spool: { dir: join(dir, 'spool'), minFreeBytes: 0 },
      stateDir: join(dir, 'state'),
      heartbeatIntervalS: 1,
      live: { enabled: false },
      cameras: [
        {
          id: CAMERA,
          name: 'Driveway',
          url: clip,
          record: { codec: 'source' },
          detect: {
            motion: {
              endAfterS: 1,
              zones: [
                {
                  name: 'driveway',
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
  let agent: ServiceProcess = startService('node-agent/src/main.ts', {}, ['--config', config]);
  onCleanup(() => agent.kill('SIGKILL'));
  const diagnostics = () =>
    `--- master ---\n${central.master.output().slice(-4000)}\n--- agent ---\n${agent.output().slice(-3000)}`;
  const ofRule = (ruleId: string) => hook.got.filter((r) => r.notification.alert.ruleId === ruleId);

  await t.test(
    'a motion event in the zone and schedule: one webhook, one email with the snapshot, one MQTT message',
    async () => {
      const sent = await waitFor('the webhook', () => ofRule(driveway.id)[0], 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${diagnostics()}`);
      });
      const n = sent.notification;
      assert.equal(n.type, 'alert.raised');
      assert.equal(n.alert.severity, 'critical');
      assert.equal(n.event?.cameraId, CAMERA);
      assert.ok(n.event?.zones.includes('driveway'));
      assert.equal(sent.headers['x-cctv-delivery'], n.id);
      const mail = await waitFor('the email', async () => (await smtp.readMessages())[0], 30_000);
      assert.match(mail.subject ?? '', /CRITICAL/);
      assert.match(mail.text ?? '', new RegExp(CAMERA));
      const jpeg = mail.attachments.find((a) => a.contentType === 'image/jpeg');
      assert.ok(jpeg, 'the snapshot is attached');
      assert.deepEqual([...jpeg.content.subarray(0, 2)], [0xff, 0xd8]);
      const viaMqtt = await waitFor('the MQTT message', () => mqttAlerts[0], 15_000);
      assert.equal(viaMqtt.id, n.id, 'one idempotency key per alert and phase, on every channel');
      // The snapshot link in the webhook works without a session (a grant), for this snapshot.
      assert.ok(n.snapshotUrl);
      const image = await fetch(n.snapshotUrl);
      assert.equal(image.status, 200);
      assert.equal(image.headers.get('content-type'), 'image/jpeg');
      // Home Assistant discovery: the camera's motion sensor.
      const discovery = [...retained.keys()].find(
        (k) => k.startsWith('homeassistant/binary_sensor/') && k.includes('motion'),
      );
      assert.ok(discovery, [...retained.keys()].join(', '));
      await waitFor(
        'the node online on the home automation broker',
        () => retained.get(`site/nodes/${NODE}/state`) === 'online',
        15_000,
      );
    },
  );

  await t.test('in the cooldown and outside a schedule: nothing more', async () => {
    // More boxes cross (one every 6 s): more events, stored, but the rule is cooling down.
    const before = await admin.getJson<{ events: unknown[] }>(`/api/events?cameras=${CAMERA}&limit=50`);
    await waitFor(
      'more events',
      async () =>
        (await admin.getJson<{ events: unknown[] }>(`/api/events?cameras=${CAMERA}&limit=50`)).events.length >
        before.events.length,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(ofRule(driveway.id).length, 1);
    assert.equal((await smtp.readMessages()).length, 1);
    assert.equal(mqttAlerts.length, 1);
    assert.equal(ofRule(otherDay.id).length, 0);
    assert.equal(hook.badSignatures(), 0);
  });

  let offlineId = '';
  await t.test(
    'a killed agent raises node offline; the receiver down for a minute gets it once after',
    async () => {
      hook.setStatus(503);
      const downAt = Date.now();
      await agent.kill('SIGKILL');
      const raised = await waitFor(
        'node offline',
        async () =>
          (await admin.getJson<AlertPage>(`/api/alerts?kind=node_offline&node=${NODE}&state=open`)).alerts[0],
        30_000,
      );
      offlineId = raised.id;
      await waitFor(
        'the node offline on the home automation broker',
        () => retained.get(`site/nodes/${NODE}/state`) === 'offline',
        15_000,
      );
      // A browser opened now (after the alert was raised) shows it in its bell.
      const browser: Browser = await launchChromium();
      after(() => browser.close());
      const dashboard = await openDashboard(central.masterUrl, central.dashboardPort);
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const [name, value] = admin.cookie.split('=') as [string, string];
      await ctx.addCookies([{ name, value, url: dashboard.url }]);
      const page = await ctx.newPage();
      await page.goto(`${dashboard.url}/`);
      await page.getByTestId('alerts-bell').click();
      const item = page.locator(`[data-testid="alert-item"][data-alert-id="${raised.id}"]`);
      await item.waitFor({ timeout: 15_000 });
      assert.equal(await item.getAttribute('data-kind'), 'node_offline');
      await ctx.close();

      await waitFor(
        'the receiver down for a minute',
        () => Date.now() - downAt >= DOWN_MS,
        DOWN_MS + 5000,
        500,
      );
      assert.ok(hook.attempts() >= 3, `${hook.attempts()} attempts while down`);
      hook.setStatus(200);
      const got = await waitFor(
        'the delivery after the receiver returned',
        () => hook.got.find((r) => r.notification.alert.id === raised.id),
        15_000,
      );
      assert.equal(got.notification.type, 'alert.raised');
      await new Promise((r) => setTimeout(r, 5000));
      const raisedSends = hook.got.filter((r) => r.notification.id === got.notification.id);
      assert.equal(raisedSends.length, 1, 'exactly one per idempotency key');
    },
  );

  await t.test("disk space: the gateway's buffer and the node's spool under a rule's threshold", async () => {
    const rules = await admin.getJson<AlertRuleView[]>('/api/alert-rules');
    const disk = rules.find((r) => r.id === 'disk-low');
    assert.ok(disk);
    // Any disk here has less than 99.9 % free.
    const res = await admin.fetch('/api/alert-rules/disk-low', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: disk.name,
        enabled: true,
        severity: disk.severity,
        channels: [],
        params: { kind: 'disk_low', minFreePercent: 99, minFreeBytes: 0 },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const buffer = await waitFor(
      'the buffer alert',
      async () =>
        (await admin.getJson<AlertPage>('/api/alerts?kind=disk_low&state=open')).alerts.find((a) =>
          a.message.startsWith("the storage gateway's buffer has"),
        ),
      15_000,
    );
    assert.match(buffer.message, /free \(\d+\.\d %\)/);
  });

  await t.test('the agent back resolves it', async () => {
    agent = startService('node-agent/src/main.ts', {}, ['--config', config]);
    const resolved = await waitFor(
      'resolved',
      async () =>
        (
          await admin.getJson<AlertPage>(`/api/alerts?kind=node_offline&node=${NODE}&state=resolved`)
        ).alerts.find((a) => a.id === offlineId),
      30_000,
    );
    assert.ok(resolved.resolvedAt);
    await waitFor(
      'the resolved webhook',
      () =>
        hook.got.some(
          (r) => r.notification.alert.id === offlineId && r.notification.type === 'alert.resolved',
        ),
      15_000,
    );
    await agent.kill('SIGTERM');
  });
});
