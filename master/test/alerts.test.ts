/**
 * Server-side alerts on a real master (PostgreSQL, its broker) with a real webhook receiver:
 * detection rules (zones, schedule, cooldown), the outbox (retries while the receiver is down,
 * one delivery per idempotency key, the dead-letter list and its retry), node offline raised
 * and resolved, who sees which alert, and the rules API refusing what it must.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type {
  AlertChannelView,
  AlertDeliveryPage,
  AlertPage,
  AlertRuleInput,
  AlertRuleView,
  SecurityAlertPage,
} from '@cctv/protocol';
import { topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import { enrolTestNode, registerTestCameras } from '../../test/support/enrol.ts';
import { onCleanup, waitFor } from '../../test/support/index.ts';
import { signIn } from '../../test/support/session.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { type EventHarness, event, startEventHarness } from './event-harness.ts';

const SECRET = 'alert-webhook-secret-0123456789';

const zoneWindow = (from: Date, minutes: number) => {
  const hhmm = (d: Date) => d.toISOString().slice(11, 16);
  return {
    days: [from.getUTCDay()],
    from: hhmm(from),
    to: hhmm(new Date(from.getTime() + minutes * 60_000)),
  };
};

describe('alerts', () => {
  let h: EventHarness;
  let hook: WebhookReceiver;
  let channel: AlertChannelView;

  before(async () => {
    h = await startEventHarness('https://127.0.0.1:9', {
      env: {
        MASTER_ALERT_EVAL_MS: '300',
        MASTER_ALERT_RETRY_BASE_MS: '200',
        MASTER_ALERT_RETRY_MAX_MS: '1000',
        MASTER_ALERT_MAX_ATTEMPTS: '4',
        MASTER_STALE_AFTER_S: '0',
      },
    });
    hook = await startWebhookReceiver(SECRET);
    const res = await h.session.postJson('/api/alert-channels', {
      name: 'Control room',
      enabled: true,
      kind: 'webhook',
      settings: { url: hook.url, secret: SECRET },
    });
    assert.equal(res.status, 201, await res.clone().text());
    channel = (await res.json()) as AlertChannelView;
  });
  after(() => undefined);

  const addRule = async (input: AlertRuleInput): Promise<AlertRuleView> => {
    const res = await h.session.postJson('/api/alert-rules', input);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as AlertRuleView;
  };
  const detection = (
    name: string,
    cameras: string[],
    over: Partial<Extract<AlertRuleInput['params'], { kind: 'detection' }>> = {},
  ): AlertRuleInput => ({
    name,
    enabled: true,
    severity: 'warning',
    channels: [channel.id],
    params: {
      kind: 'detection',
      eventTypes: ['motion'],
      cameras,
      zones: [],
      minScore: 0,
      schedule: null,
      cooldownS: 0,
      ...over,
    },
  });
  const motion = (cameraId: string, zones: string[], startedAt = new Date()) =>
    event({ id: randomUUID(), cameraId, startedAt: startedAt.toISOString(), zones, score: 0.6 });
  const forRule = (ruleId: string) => hook.got.filter((r) => r.notification.alert.ruleId === ruleId);

  it('keeps the channel secret to itself', async () => {
    const listed = await h.getJson<AlertChannelView[]>('/api/alert-channels');
    assert.ok(!JSON.stringify(listed).includes(SECRET));
    assert.deepEqual(listed[0]?.settings, { url: hook.url, headerNames: [], hasSecret: true });
    const row = await h.db.notificationChannel.findUniqueOrThrow({ where: { id: channel.id } });
    assert.ok(!JSON.stringify(row).includes(SECRET), 'sealed in the database');
    assert.match(row.secret ?? '', /^v1\./);
  });

  it('a detection in the zone and schedule sends one signed webhook; the cooldown and other zones none', async () => {
    const now = new Date();
    const rule = await addRule(
      detection('Driveway at night', ['cam-drive'], {
        zones: ['driveway'],
        cooldownS: 3600,
        schedule: { timeZone: 'UTC', windows: [zoneWindow(new Date(now.getTime() - 60_000), 10)] },
      }),
    );
    await h.publish('node-a', [motion('cam-drive', ['porch'])]);
    const first = motion('cam-drive', ['driveway', 'porch']);
    await h.publish('node-a', [first]);
    await waitFor('the webhook', () => forRule(rule.id).length === 1, 10_000);
    const r = forRule(rule.id)[0];
    assert.ok(r);
    assert.equal(r.notification.type, 'alert.raised');
    assert.equal(r.notification.event?.id, first.id);
    assert.deepEqual(r.notification.event?.zones, ['driveway', 'porch']);
    assert.equal(r.headers['x-cctv-delivery'], r.notification.id);
    // In the cooldown: stored, but no second alert.
    await h.publish('node-a', [motion('cam-drive', ['driveway'])]);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(forRule(rule.id).length, 1, 'one webhook in the cooldown');
    const page = await h.getJson<AlertPage>('/api/alerts?kind=detection&camera=cam-drive');
    assert.equal(page.alerts.filter((a) => a.ruleId === rule.id).length, 1);
  });

  it('outside the schedule no alert is raised', async () => {
    const later = new Date(Date.now() + 3 * 3600_000);
    const rule = await addRule(
      detection('Later today', ['cam-yard'], {
        schedule: {
          timeZone: 'Europe/Berlin',
          windows: [{ days: [later.getUTCDay()], from: '00:00', to: '00:00' }],
        },
      }),
    );
    // A window over a whole other weekday.
    const other = (later.getUTCDay() + 3) % 7;
    await h.fetch(`/api/alert-rules/${rule.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        detection('Another day', ['cam-yard'], {
          schedule: { timeZone: 'UTC', windows: [{ days: [other], from: '00:00', to: '00:00' }] },
        }),
      ),
    });
    await h.publish('node-a', [motion('cam-yard', [])]);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(forRule(rule.id).length, 0);
  });

  it('a receiver down for a while gets the delivery once after it returns; a refusal goes to the dead-letter list', async () => {
    const rule = await addRule(detection('Gate', ['cam-gate']));
    hook.setStatus(503);
    const before = hook.attempts();
    const e = motion('cam-gate', []);
    await h.publish('node-a', [e]);
    await waitFor('attempts while down', () => hook.attempts() >= before + 2, 10_000);
    hook.setStatus(200);
    await waitFor('delivered after the receiver came back', () => forRule(rule.id).length === 1, 10_000);
    await new Promise((res) => setTimeout(res, 1500));
    const keys = forRule(rule.id).map((r) => r.notification.id);
    assert.equal(new Set(keys).size, keys.length, 'one delivery per idempotency key');
    const tries = hook.bodies.get(keys[0] ?? '') ?? [];
    assert.ok(tries.length >= 3, `${tries.length} attempts`);
    assert.equal(new Set(tries).size, 1, 'every attempt sends the same bytes');
    const delivered = await h.getJson<AlertDeliveryPage>('/api/alert-deliveries?state=delivered');
    const mine = delivered.deliveries.find((d) => d.idempotencyKey === keys[0]);
    assert.ok(mine && mine.attempts >= 2, JSON.stringify(mine));

    // 400: permanent, straight to the dead-letter list; retried by an admin, same key.
    hook.setStatus(400);
    await h.publish('node-a', [motion('cam-gate', [])]);
    const dead = await waitFor(
      'a dead delivery',
      async () => (await h.getJson<AlertDeliveryPage>('/api/alert-deliveries?state=dead')).deliveries[0],
      10_000,
    );
    assert.equal(dead.attempts, 1);
    assert.match(dead.lastError ?? '', /400/);
    hook.setStatus(200);
    const retried = await h.fetch(`/api/alert-deliveries/${dead.id}/retry`, { method: 'POST' });
    assert.equal(retried.status, 200);
    await waitFor('the retry', () => hook.got.some((r) => r.notification.id === dead.idempotencyKey), 10_000);
    const again = await h.fetch(`/api/alert-deliveries/${dead.id}/retry`, { method: 'POST' });
    assert.equal(again.status, 409, 'only a dead delivery is retried');
  });

  it('a node offline raises an alert that resolves when it returns, webhooks for both', async () => {
    const rules = await h.getJson<AlertRuleView[]>('/api/alert-rules');
    const offline = rules.find((r) => r.id === 'node-offline');
    assert.ok(offline);
    const put = await h.fetch('/api/alert-rules/node-offline', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: offline.name,
        enabled: true,
        severity: offline.severity,
        channels: [channel.id],
        params: { ...offline.params, afterS: 0 },
      }),
    });
    assert.equal(put.status, 200, await put.clone().text());
    await registerTestCameras(h.master.databaseUrl, 'node-off', ['cam-off']);
    const connect = async () => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.master.mqttPort}`, {
        clientId: 'agent-node-off',
        username: 'node-off',
        password,
        reconnectPeriod: 0,
        will: {
          topic: topics.status('node-off'),
          payload: Buffer.from(
            JSON.stringify({ state: 'offline', at: new Date().toISOString(), agentVersion: '1.0.0' }),
          ),
          qos: 1,
          retain: true,
        },
      });
      await client.publishAsync(
        topics.status('node-off'),
        JSON.stringify({ state: 'online', at: new Date().toISOString(), agentVersion: '1.0.0' }),
        { qos: 1, retain: true },
      );
      return client;
    };
    const password = await enrolTestNode(h.master.databaseUrl, 'node-off');
    let client = await connect();
    onCleanup(() => client.endAsync(true));
    const socket = h.session.socket('/ws');
    const pushed: string[] = [];
    socket.addEventListener('message', (m) => pushed.push(String(m.data)));
    await new Promise((r) => socket.addEventListener('open', r));
    client.stream.destroy();
    const raised = await waitFor(
      'node offline alert',
      async () =>
        (await h.getJson<AlertPage>('/api/alerts?kind=node_offline&node=node-off&state=open')).alerts[0],
      10_000,
    );
    assert.match(raised.message, /node-off is offline/);
    await waitFor(
      'pushed',
      () => pushed.some((p) => p.includes('"type":"alert"') && p.includes(raised.id)),
      5000,
    );
    client = await connect();
    await waitFor(
      'resolved',
      async () =>
        (await h.getJson<AlertPage>(`/api/alerts?node=node-off&state=resolved`)).alerts.length === 1,
      10_000,
    );
    await waitFor(
      'webhooks for raised and resolved',
      () =>
        hook.got
          .filter((r) => r.notification.alert.id === raised.id)
          .map((r) => r.notification.type)
          .join() === 'alert.raised,alert.resolved',
      10_000,
    );
    socket.close();
  });

  it('users see the alerts of their cameras only, and acknowledge those', async () => {
    const created = await h.session.postJson('/api/users', {
      username: 'viewer.gate',
      password: 'viewer-gate-password-1',
      role: 'viewer',
      cameras: ['cam-gate'],
    });
    assert.equal(created.status, 201);
    const op = await h.session.postJson('/api/users', {
      username: 'op.alerts',
      password: 'operator-alerts-password-1',
      role: 'operator',
      cameras: 'all',
    });
    assert.equal(op.status, 201);
    const viewer = await signIn(h.api(''), 'viewer.gate', 'viewer-gate-password-1');
    const page = (await viewer.getJson<AlertPage>('/api/alerts?limit=200')).alerts;
    assert.ok(page.length > 0);
    assert.ok(
      // Its camera's alerts, and those of the node it is on (a node is seen with one of its cameras).
      page.every((a) => a.cameraId === 'cam-gate' || (a.cameraId === null && a.nodeId === 'node-a')),
      JSON.stringify(page.map((a) => a.cameraId)),
    );
    const all = await h.getJson<AlertPage>('/api/alerts?limit=200');
    const foreign = all.alerts.find((a) => a.cameraId === 'cam-drive');
    assert.ok(foreign);
    assert.equal((await viewer.fetch(`/api/alerts/${foreign.id}/ack`, { method: 'POST' })).status, 404);
    const ack = await viewer.postJson('/api/alerts/ack', {});
    assert.equal(ack.status, 200);
    assert.equal(((await ack.json()) as { acknowledged: number }).acknowledged, page.length);
    const after = await h.getJson<AlertPage>('/api/alerts?limit=200');
    assert.ok(after.alerts.some((a) => a.cameraId === 'cam-drive' && a.acknowledgedAt === null));
    assert.ok(
      after.alerts.filter((a) => a.cameraId === 'cam-gate').every((a) => a.acknowledgedBy === 'viewer.gate'),
    );
    // Rules and deliveries are for admins.
    assert.equal((await viewer.fetch('/api/alert-rules')).status, 403);
    assert.equal((await viewer.fetch('/api/alert-deliveries')).status, 403);
  });

  it('repeated sign-in failures raise a security alert for admins only', async () => {
    let throttled = false;
    for (let i = 0; i < 30 && !throttled; i++) {
      const res = await fetch(h.api('/api/auth/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'viewer.gate', password: 'not-the-password-000' }),
      });
      throttled = res.status === 429;
    }
    assert.ok(throttled, 'sign-ins held back');
    const alert = await waitFor(
      'security alert',
      async () =>
        (await h.getJson<AlertPage>('/api/alerts?kind=security')).alerts.find((a) =>
          a.message.includes('sign-ins as viewer.gate'),
        ),
      10_000,
    );
    assert.equal(alert.severity, 'critical');
    // Acknowledged here, its security-alert record is acknowledged too.
    assert.equal((await h.fetch(`/api/alerts/${alert.id}/ack`, { method: 'POST' })).status, 200);
    const records = await h.getJson<SecurityAlertPage>('/api/security/alerts');
    const record = records.alerts.find((a) => a.kind === 'sign_in_failures');
    assert.equal(record?.acknowledgedBy, 'admin');
    const viewer = await signIn(h.api(''), 'op.alerts', 'operator-alerts-password-1');
    assert.equal((await viewer.getJson<AlertPage>('/api/alerts?kind=security')).alerts.length, 0);
  });

  it('refuses rules a schema cannot: unknown zone or channel, built-in deletion, another kind', async () => {
    const bad = await h.session.postJson('/api/alert-rules', {
      ...detection('Bad zone', []),
      params: {
        ...detection('x', []).params,
        schedule: { timeZone: 'Mars/Olympus', windows: [{ days: [1], from: '08:00', to: '09:00' }] },
      },
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Mars\/Olympus/);
    const unknown = await h.session.postJson('/api/alert-rules', {
      ...detection('x', []),
      channels: ['ch-nope'],
    });
    assert.equal(unknown.status, 400);
    const malformed = await h.session.postJson('/api/alert-rules', {
      ...detection('x', []),
      params: { ...detection('x', []).params, cooldownS: -1 },
    });
    assert.equal(malformed.status, 400);
    assert.equal((await h.fetch('/api/alert-rules/security', { method: 'DELETE' })).status, 409);
    const kind = await h.fetch('/api/alert-rules/security', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(detection('x', [])),
    });
    assert.equal(kind.status, 409);
    const audit = await h.getJson<{ entries: { action: string }[] }>('/api/audit?limit=200');
    for (const action of ['alert_rule_create', 'alert_rule_update', 'alert_channel_create', 'alert_ack'])
      assert.ok(
        audit.entries.some((e) => e.action === action),
        action,
      );
  });
});
