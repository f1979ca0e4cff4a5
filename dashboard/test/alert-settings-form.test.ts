import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertChannelView, AlertRuleView } from '@cctv/protocol';
import { channelDraft, channelInput, parseHeaders } from '../features/alerts/channel-form.ts';
import { listOf, ruleDraft, ruleInput, ruleSummary, SECURITY_KINDS } from '../features/alerts/rule-form.ts';

const rule = (params: AlertRuleView['params']): AlertRuleView => ({
  id: 'r1',
  name: 'Gate at night',
  kind: params.kind,
  enabled: true,
  severity: 'critical',
  params,
  channels: ['hook'],
  builtIn: false,
  createdAt: '2026-03-01T10:00:00.000Z',
  updatedAt: '2026-03-01T10:00:00.000Z',
  createdBy: 'admin',
});

const webhook = (hasSecret: boolean): AlertChannelView => ({
  id: 'hook',
  name: 'Control room',
  kind: 'webhook',
  enabled: true,
  settings: { url: 'https://hooks.example/cctv', headerNames: ['X-Token'], hasSecret },
  createdAt: '2026-03-01T10:00:00.000Z',
  updatedAt: '2026-03-01T10:00:00.000Z',
  createdBy: 'admin',
});

describe('alert rule form', () => {
  it('reads the security kinds from the contract', () => {
    assert.ok(SECURITY_KINDS.includes('camera_claim'));
  });

  it('makes a detection rule with zones, a schedule in a time zone and a cooldown', () => {
    const d = ruleDraft(null);
    d.name = ' Gate at night ';
    d.eventTypes = ['motion', 'face'];
    d.cameras = ['gate'];
    d.zones = 'driveway, porch\ndriveway';
    d.numbers = { ...d.numbers, minScore: '0.5', cooldownS: '120' };
    d.schedule = { timeZone: 'Europe/Berlin', windows: [{ days: [5, 1], from: '22:00', to: '06:00' }] };
    d.channels = ['hook'];
    const made = ruleInput(d);
    assert.ok('input' in made, JSON.stringify(made));
    assert.deepEqual(made.input, {
      name: 'Gate at night',
      enabled: true,
      severity: 'warning',
      channels: ['hook'],
      params: {
        kind: 'detection',
        eventTypes: ['motion', 'face'],
        cameras: ['gate'],
        zones: ['driveway', 'porch'],
        minScore: 0.5,
        schedule: { timeZone: 'Europe/Berlin', windows: [{ days: [1, 5], from: '22:00', to: '06:00' }] },
        cooldownS: 120,
      },
    });
    // And back: the form of the saved rule makes the same input.
    const again = ruleInput(ruleDraft(rule(made.input.params)));
    assert.ok('input' in again);
    assert.deepEqual(again.input.params, made.input.params);
  });

  it('refuses what the master would, with the reason', () => {
    const d = ruleDraft(null);
    assert.deepEqual(ruleInput(d), { problem: 'a rule needs a name' });
    d.name = 'x';
    d.eventTypes = [];
    assert.deepEqual(ruleInput(d), { problem: 'choose at least one event type' });
    d.eventTypes = ['motion'];
    d.numbers = { ...d.numbers, minScore: '1.5' };
    assert.match(JSON.stringify(ruleInput(d)), /Minimum score/);
    d.numbers = { ...d.numbers, minScore: '0', cooldownS: '2.5' };
    assert.match(JSON.stringify(ruleInput(d)), /whole number/);
    d.numbers = { ...d.numbers, cooldownS: '0' };
    d.zones = 'bad/zone';
    assert.deepEqual(ruleInput(d), { problem: '"bad/zone" is not a zone name' });
    d.zones = '';
    d.schedule = { timeZone: 'UTC', windows: [{ days: [], from: '22:00', to: '06:00' }] };
    assert.deepEqual(ruleInput(d), { problem: 'each schedule window needs at least one day' });
    d.schedule = { timeZone: 'UTC', windows: [{ days: [0], from: '25:00', to: '06:00' }] };
    assert.deepEqual(ruleInput(d), { problem: 'times are HH:MM, 00:00 to 24:00' });
  });

  it('makes the other kinds from their few numbers', () => {
    const d = { ...ruleDraft(null), name: 'Disk', kind: 'disk_low' as const };
    d.numbers = { ...d.numbers, minFreePercent: '5', minFreeGiB: '2' };
    const disk = ruleInput(d);
    assert.ok('input' in disk);
    assert.deepEqual(disk.input.params, { kind: 'disk_low', minFreePercent: 5, minFreeBytes: 2 * 1024 ** 3 });
    assert.equal(ruleDraft(rule(disk.input.params)).numbers.minFreeGiB, '2');

    const off = ruleInput({ ...ruleDraft(null), name: 'Off', kind: 'node_offline', nodes: 'edge-1, edge-2' });
    assert.ok('input' in off);
    assert.deepEqual(off.input.params, {
      kind: 'node_offline',
      nodes: ['edge-1', 'edge-2'],
      afterS: 60,
      includeStale: true,
    });
    const skew = ruleInput({ ...ruleDraft(null), name: 'Skew', kind: 'clock_skew' });
    assert.ok('input' in skew);
    assert.deepEqual(skew.input.params, { kind: 'clock_skew', maxOffsetMs: 10_000 });
    assert.match(
      JSON.stringify(
        ruleInput({ ...ruleDraft(null), name: 'Skew', kind: 'clock_skew', numbers: { maxOffsetMs: '5' } }),
      ),
      /Largest offset/,
    );
    assert.equal(ruleSummary({ kind: 'cert_expiry', warnDays: 21 }), '21 days before expiry');
    assert.deepEqual(listOf(' a, b\n\na '), ['a', 'b']);
  });
});

describe('alert channel form', () => {
  it('needs a secret for a new webhook, and keeps the saved one when left empty', () => {
    const d = { ...channelDraft(null), name: 'Control room', url: 'https://hooks.example/cctv' };
    assert.match(JSON.stringify(channelInput(d, null)), /needs a secret/);
    assert.match(JSON.stringify(channelInput({ ...d, secret: 'short' }, null)), /16 characters/);
    const created = channelInput({ ...d, secret: 'a-secret-of-16-chars', headers: 'X-Token: abc' }, null);
    assert.ok('input' in created);
    assert.deepEqual(created.input.settings, {
      url: 'https://hooks.example/cctv',
      secret: 'a-secret-of-16-chars',
      headers: { 'X-Token': 'abc' },
    });
    const edited = channelInput(channelDraft(webhook(true)), webhook(true));
    assert.ok('input' in edited);
    assert.deepEqual(
      edited.input.settings,
      { url: 'https://hooks.example/cctv' },
      'no secret, no headers: kept',
    );
    assert.match(
      JSON.stringify(channelInput(channelDraft(webhook(false)), webhook(false))),
      /needs a secret/,
    );
  });

  it('sends an e-mail or MQTT password only when typed, and only with a username', () => {
    const mail = {
      ...channelDraft(null, 'email'),
      name: 'Mail',
      host: 'smtp.example',
      from: 'cctv@example.org',
      to: 'a@example.org, b@example.org',
    };
    const plain = channelInput(mail, null);
    assert.ok('input' in plain);
    assert.deepEqual(plain.input.settings, {
      host: 'smtp.example',
      port: 587,
      security: 'starttls',
      from: 'cctv@example.org',
      to: ['a@example.org', 'b@example.org'],
    });
    const login = channelInput({ ...mail, username: 'cctv', secret: 'pw' }, null);
    assert.ok('input' in login);
    assert.equal((login.input.settings as { password?: string }).password, 'pw');
    assert.match(JSON.stringify(channelInput({ ...mail, port: '70000' }, null)), /port/);

    const mqtt = channelInput(
      {
        ...channelDraft(null, 'mqtt'),
        name: 'HA',
        url: 'mqtt://ha.local:1883',
        homeAssistant: true,
        topicPrefix: 'site1',
      },
      null,
    );
    assert.ok('input' in mqtt);
    assert.deepEqual(mqtt.input.settings, {
      url: 'mqtt://ha.local:1883',
      topicPrefix: 'site1',
      homeAssistant: true,
    });
    assert.match(
      JSON.stringify(channelInput({ ...channelDraft(null, 'mqtt'), name: 'x', url: 'http://x' }, null)),
      /broker URL/,
    );
  });

  it('reads header lines', () => {
    assert.deepEqual(parseHeaders('X-A: 1\n\n X-B:two words '), {
      headers: { 'X-A': '1', 'X-B': 'two words' },
    });
    assert.deepEqual(parseHeaders('no colon'), { problem: '"no colon" is not a "Name: value" header' });
  });
});
