/**
 * The webhook signature and the pure parts of the senders: the HMAC against a vector made with
 * openssl, `Retry-After`, the URLs and headers refused, the notification contract, the alert
 * e-mail's text and the Home Assistant discovery configs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mqttOutTopics, notificationValidators, webhookHeadersProblem } from '@cctv/protocol';
import { alertEmail } from '../src/notify/alert-email.ts';
import {
  editedWebhook,
  editedWithPassword,
  emailView,
  mqttView,
  webhookView,
} from '../src/notify/channel-settings.ts';
import { discoveryConfigs, discoveryFilter } from '../src/notify/ha-discovery.ts';
import { retryAfter, sendWebhook, signWebhook, webhookUrlProblem } from '../src/notify/webhook.ts';
import { sample } from './notify-sample.ts';

describe('webhook signature', () => {
  it('is the HMAC-SHA256 of "<timestamp>.<raw body>", as openssl computes it', () => {
    // printf '%s' '1764921600.{"id":"n1","text":"Grüße"}' | openssl dgst -sha256 -hmac whsec-test-0123456789
    assert.equal(
      signWebhook('whsec-test-0123456789', 1764921600, '{"id":"n1","text":"Grüße"}'),
      'sha256=9ec27de5093f3540e3fb6e777501fc9314d2f1fa75dc5b18c0d6c15c6f450ed6',
    );
    assert.notEqual(
      signWebhook('whsec-test-0123456789', 1764921601, '{"id":"n1","text":"Grüße"}'),
      signWebhook('whsec-test-0123456789', 1764921600, '{"id":"n1","text":"Grüße"}'),
      'the timestamp is signed',
    );
  });

  it('reads Retry-After as seconds or a date, bounded', () => {
    const now = new Date('2026-12-05T06:00:00Z');
    assert.equal(retryAfter('7', now), 7000);
    assert.equal(retryAfter(' 0 ', now), 0);
    assert.equal(retryAfter('Sat, 05 Dec 2026 06:01:00 GMT', now), 60_000);
    assert.equal(retryAfter('Sat, 05 Dec 2026 05:00:00 GMT', now), 0, 'a date passed');
    assert.equal(retryAfter('9999999999', now), 24 * 3600_000);
    assert.equal(retryAfter('soon', now), undefined);
    assert.equal(retryAfter(null, now), undefined);
  });

  it('refuses URLs with credentials, other schemes, and headers the master sets', async () => {
    assert.equal(webhookUrlProblem('https://hooks.example/x?token=1'), null);
    assert.equal(webhookUrlProblem('http://10.0.0.5:8123/api/webhook/abc'), null);
    assert.match(webhookUrlProblem('https://user:pw@hooks.example/x') ?? '', /credentials/);
    assert.match(webhookUrlProblem('https://user@hooks.example/x') ?? '', /credentials/);
    assert.match(webhookUrlProblem('ftp://hooks.example/x') ?? '', /http/);
    assert.match(webhookUrlProblem('not a url') ?? '', /not a URL/);
    assert.equal(webhookHeadersProblem({ Authorization: 'Bearer x' }), null);
    assert.match(webhookHeadersProblem({ 'x-cctv-signature': 'forged' }) ?? '', /set by the master/);
    assert.match(webhookHeadersProblem({ 'Content-Type': 'text/plain' }) ?? '', /set by the master/);
    // Refused before any request: a fetch that fails the test if called.
    const never = (() => assert.fail('no request expected')) as unknown as typeof fetch;
    const r = await sendWebhook({ url: 'https://u:p@h.example/', secret: 's'.repeat(16) }, sample, {
      timeoutMs: 1000,
      fetchImpl: never,
    });
    assert.deepEqual(r, {
      ok: false,
      retry: false,
      error: 'URLs with credentials are refused (use headers)',
    });
    assert.equal(JSON.stringify(r).includes(':p@'), false);
  });
});

describe('notification contracts', () => {
  it('takes the sample and refuses what receivers could not rely on', () => {
    const v = notificationValidators.alertNotification;
    assert.deepEqual(v.validate(sample), { ok: true, value: sample });
    assert.ok(v.check({ ...sample, event: null, snapshotUrl: null }));
    assert.ok(!v.check({ ...sample, type: 'alert.updated' }));
    assert.ok(!v.check({ ...sample, extra: 1 }));
    assert.ok(!v.check({ ...sample, alert: { ...sample.alert, severity: 'fatal' } }));
    assert.ok(!v.check({ ...sample, snapshotUrl: 'javascript:alert(1)' }));
  });

  it('checks channel settings: URL schemes, no credentials in URLs, e-mail addresses, topic prefixes', () => {
    const hook = notificationValidators.webhookChannel.check;
    assert.ok(
      hook({ url: 'https://hooks.example/a', secret: 'x'.repeat(16), headers: { Authorization: 'B' } }),
    );
    assert.ok(hook({ url: 'http://ha.lan:8123/api/webhook/cctv' }), 'secret absent: keeps the saved one');
    assert.ok(!hook({ url: 'https://u:p@hooks.example/a' }));
    assert.ok(!hook({ url: 'https://hooks.example/a', secret: 'short' }));
    assert.ok(!hook({ url: 'https://hooks.example/a', headers: { 'X-A': 'line\r\nInjected: 1' } }));
    assert.ok(!hook({ url: 'https://hooks.example/a', headers: { 'bad name': 'x' } }));
    const mail = notificationValidators.emailChannel.check;
    const m = {
      host: 'smtp.example.com',
      port: 587,
      security: 'starttls',
      from: 'cctv@example.com',
      to: ['a@example.com'],
    };
    assert.ok(mail(m));
    assert.ok(!mail({ ...m, to: ['a@example.com, b@example.com'] }), 'one address per entry');
    assert.ok(!mail({ ...m, to: ['Eve <e@example.com>'] }));
    assert.ok(!mail({ ...m, to: Array.from({ length: 21 }, (_, i) => `u${i}@example.com`) }));
    assert.ok(!mail({ ...m, to: [] }));
    assert.ok(!mail({ ...m, security: 'ssl' }));
    const mq = notificationValidators.mqttChannel.check;
    const q = {
      url: 'mqtts://ha.lan:8883',
      topicPrefix: 'cctv',
      discoveryPrefix: 'homeassistant',
      homeAssistant: true,
    };
    assert.ok(mq(q));
    assert.ok(mq({ ...q, topicPrefix: 'site/a' }));
    assert.ok(!mq({ ...q, topicPrefix: 'cctv/#' }));
    assert.ok(!mq({ ...q, topicPrefix: '$SYS' }));
    assert.ok(!mq({ ...q, url: 'mqtt://u:p@ha.lan' }));
    assert.ok(!mq({ ...q, url: 'ws://ha.lan' }));
  });
});

describe('alert e-mail', () => {
  it('says what and where in the subject, times in ISO and in the site zone', () => {
    const { subject, text } = alertEmail(sample, { timeZone: 'Europe/Berlin' });
    assert.equal(subject, '[CCTV] WARNING: Motion in the yard (camera yard, node node-1)');
    assert.match(text, /^Motion in the yard\n/);
    assert.match(text, /Raised: {3}2026-12-05T06:30:00\.000Z \(5 Dec 2026, 07:30:00 CET\)/);
    assert.match(text, /Event: {4}motion on yard, 2026-12-05T06:29:58\.000Z .* \(going on\)/);
    assert.match(text, /Zones: {4}gate/);
    assert.match(text, /Snapshot: https:\/\/master\.example\/s\/abc\.jpg/);
    assert.match(text, /notification a1b2c3:raised/);
    const resolved = alertEmail(
      {
        ...sample,
        type: 'alert.resolved',
        alert: { ...sample.alert, resolvedAt: '2026-12-05T06:40:00.000Z' },
      },
      { siteName: 'Farm', timeZone: 'Not/AZone' },
    );
    assert.equal(resolved.subject, '[Farm] Resolved: Motion in the yard (camera yard, node node-1)');
    assert.match(resolved.text, /Resolved: 2026-12-05T06:40:00\.000Z\n/, 'an unknown zone: ISO only');
    const long = alertEmail({ ...sample, alert: { ...sample.alert, message: 'x'.repeat(500) } });
    assert.equal(long.subject.length, 160);
  });
});

describe('Home Assistant discovery configs', () => {
  it('makes motion, face, recording and node connectivity entities, grouped by device', () => {
    const site = { topicPrefix: 'cctv', discoveryPrefix: 'homeassistant' };
    const configs = discoveryConfigs(site, [
      { cameraId: 'yard', nodeId: 'node-1', name: 'Yard' },
      { cameraId: 'gate', nodeId: 'node-1', name: 'Gate' },
    ]);
    assert.deepEqual([...configs.keys()].sort(), [
      'homeassistant/binary_sensor/cctv/gate_face/config',
      'homeassistant/binary_sensor/cctv/gate_motion/config',
      'homeassistant/binary_sensor/cctv/node_node-1_connectivity/config',
      'homeassistant/binary_sensor/cctv/yard_face/config',
      'homeassistant/binary_sensor/cctv/yard_motion/config',
      'homeassistant/sensor/cctv/gate_recording/config',
      'homeassistant/sensor/cctv/yard_recording/config',
    ]);
    const motion = JSON.parse(configs.get('homeassistant/binary_sensor/cctv/yard_motion/config') ?? '');
    assert.equal(motion.unique_id, 'cctv_yard_motion');
    assert.equal(motion.device_class, 'motion');
    assert.equal(motion.state_topic, mqttOutTopics('cctv').detection('yard', 'motion'));
    assert.deepEqual([motion.payload_on, motion.payload_off], ['ON', 'OFF']);
    assert.deepEqual(motion.availability, [
      { topic: 'cctv/status', payload_available: 'online', payload_not_available: 'offline' },
    ]);
    assert.deepEqual(motion.device.identifiers, ['cctv_camera_yard']);
    assert.equal(motion.device.via_device, 'cctv_node_node-1');
    const face = JSON.parse(configs.get('homeassistant/binary_sensor/cctv/yard_face/config') ?? '');
    assert.equal(face.device_class, 'occupancy');
    assert.deepEqual(face.device, motion.device, 'one device per camera');
    const node = JSON.parse(
      configs.get('homeassistant/binary_sensor/cctv/node_node-1_connectivity/config') ?? '',
    );
    assert.equal(node.device_class, 'connectivity');
    assert.equal(node.state_topic, 'cctv/nodes/node-1/state');
    assert.deepEqual(node.device.identifiers, [motion.device.via_device]);
    assert.equal(discoveryFilter(site), 'homeassistant/+/cctv/+/config');
    // A prefix with levels keeps its sites apart in unique ids and discovery topics.
    const other = discoveryConfigs({ topicPrefix: 'farm/cctv', discoveryPrefix: 'ha' }, [
      { cameraId: 'yard', nodeId: 'n', name: 'Yard' },
    ]);
    assert.ok(other.has('ha/binary_sensor/farm_cctv/yard_motion/config'));
  });
});

describe('channel settings views and edits', () => {
  it('never shows a secret, and keeps a saved one an edit leaves out', () => {
    const hook = {
      url: 'https://h.example/x',
      secret: 's'.repeat(20),
      headers: { Authorization: 'Bearer t' },
    };
    assert.deepEqual(webhookView(hook), { url: hook.url, headerNames: ['Authorization'], hasSecret: true });
    assert.deepEqual(editedWebhook(hook, { url: 'https://h.example/y' }), {
      ...hook,
      url: 'https://h.example/y',
    });
    assert.deepEqual(editedWebhook(hook, { url: hook.url, secret: 'n'.repeat(16), headers: {} }), {
      url: hook.url,
      secret: 'n'.repeat(16),
      headers: {},
    });
    assert.deepEqual(editedWebhook(null, { url: hook.url }), { url: hook.url }, 'a new channel without one');

    const mail = {
      host: 'smtp.example.com',
      port: 587,
      security: 'starttls' as const,
      username: 'cctv',
      password: 'pw',
      from: 'cctv@example.com',
      to: ['a@example.com'],
    };
    const view = emailView(mail);
    assert.equal(view.hasSecret, true);
    assert.equal(JSON.stringify(view).includes('"pw"'), false);
    const { password: _, ...noPassword } = mail;
    assert.deepEqual(editedWithPassword(mail, noPassword), mail, 'left out: kept');
    assert.deepEqual(editedWithPassword(mail, { ...mail, password: '' }), noPassword, 'empty: removed');
    assert.deepEqual(editedWithPassword(mail, { ...mail, password: 'new' }), { ...mail, password: 'new' });
    const { username: __, ...anonymous } = noPassword;
    assert.deepEqual(editedWithPassword(mail, anonymous), anonymous, 'no username, no password');

    const mq = {
      url: 'mqtt://ha.lan',
      topicPrefix: 'cctv',
      discoveryPrefix: 'homeassistant',
      homeAssistant: true,
    };
    assert.deepEqual(mqttView({ ...mq, password: 'x' }), { ...mq, username: null, hasSecret: true });
  });
});
