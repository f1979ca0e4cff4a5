import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { iceServersFor, loadIceConfig } from '../src/live/ice-servers.ts';

describe('ICE servers for browsers', () => {
  it('passes fixed STUN/TURN servers through, validated', () => {
    const config = loadIceConfig({
      MASTER_ICE_SERVERS: JSON.stringify([{ urls: 'stun:stun.example.org:3478' }]),
    });
    assert.deepEqual(iceServersFor(config, 'alice'), [{ urls: 'stun:stun.example.org:3478' }]);
    assert.throws(() => loadIceConfig({ MASTER_ICE_SERVERS: '[{"urls":"http://x"}]' }), /MASTER_ICE_SERVERS/);
    assert.throws(() => loadIceConfig({ MASTER_ICE_SERVERS: 'not json' }), /MASTER_ICE_SERVERS/);
  });

  it('makes TURN credentials that expire, as coturn use-auth-secret checks them', () => {
    const secret = 'a-long-shared-turn-secret';
    const config = loadIceConfig({
      MASTER_TURN_SECRET: secret,
      MASTER_TURN_URLS: 'turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349',
      MASTER_TURN_TTL_S: '600',
    });
    const now = Date.parse('2026-11-28T10:00:00Z');
    const [turn] = iceServersFor(config, 'alice', now);
    assert.deepEqual(turn?.urls, ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349']);
    assert.equal(turn?.username, `${now / 1000 + 600}:alice`);
    assert.equal(
      turn?.credential,
      createHmac('sha1', secret)
        .update(turn?.username ?? '')
        .digest('base64'),
    );
    assert.throws(() => loadIceConfig({ MASTER_TURN_SECRET: secret }), /MASTER_TURN_URLS/);
    assert.throws(() => loadIceConfig({ MASTER_TURN_SECRET: 'short', MASTER_TURN_URLS: 'turn:x' }), /16/);
  });
});
