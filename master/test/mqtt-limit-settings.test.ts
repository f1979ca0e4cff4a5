/**
 * The MQTT limit settings: defaults, refusals naming the key, and that the default packet cap
 * leaves room for the largest hello the protocol allows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validators } from '@cctv/protocol';
import { loadSecurityConfig } from '../src/auth/security-config.ts';
import { DEFAULT_MQTT_LIMITS } from '../src/mqtt/connection-gate.ts';

describe('MQTT limit settings', () => {
  it('default to DEFAULT_MQTT_LIMITS and refuse bad values naming the key', () => {
    assert.deepEqual(loadSecurityConfig({}).mqttLimits, {
      maxPacketBytes: 262_144,
      maxConnections: 20_000,
      maxConnectionsPerAddress: 1024,
      maxPendingPerAddress: 64,
      connectTimeoutMs: 5000,
    });
    assert.deepEqual(loadSecurityConfig({}).mqttLimits, DEFAULT_MQTT_LIMITS);
    const keys = [
      'MQTT_MAX_PACKET_BYTES',
      'MQTT_MAX_CONNECTIONS',
      'MQTT_MAX_CONNECTIONS_PER_ADDRESS',
      'MQTT_MAX_PENDING_PER_ADDRESS',
      'MQTT_CONNECT_TIMEOUT_MS',
    ];
    for (const key of keys)
      for (const bad of ['abc', '0', '-1', '1.5', '1e3', '999999999999'])
        assert.throws(
          () => loadSecurityConfig({ [key]: bad }),
          new RegExp(`^Error: ${key} must be`),
          `${key}=${bad}`,
        );
    assert.equal(
      loadSecurityConfig({ MQTT_MAX_PACKET_BYTES: '1048576' }).mqttLimits.maxPacketBytes,
      1_048_576,
    );
  });

  it('default packet cap is well above the largest valid hello (64 cameras, every text at its limit)', () => {
    const hello = (char: string) => {
      const text = (n: number) => char.repeat(n);
      return {
        protocolVersion: 1,
        nodeId: `n${'x'.repeat(62)}`,
        agentVersion: text(64),
        at: new Date().toISOString(),
        host: { hostname: text(255), platform: text(32), arch: text(32), cpus: 64, memTotalBytes: 2 ** 40 },
        capabilities: { ffmpegVersion: text(120), hwEncoders: Array.from({ length: 32 }, () => text(64)) },
        cameras: Array.from({ length: 64 }, (_, i) => ({
          id: `c${String(i).padStart(2, '0')}${'x'.repeat(60)}`,
          name: text(120),
          codec: text(32),
          width: 16384,
          height: 16384,
          fps: 500,
          simulated: false,
          recording: { mode: 'transcode', encoder: text(64), reason: text(300) },
        })),
      };
    };
    // + topic and headers
    const size = (h: unknown) => Buffer.byteLength(JSON.stringify(h)) + 100;
    const ascii = hello('x');
    assert.ok(validators.hello.check(ascii), 'a valid hello');
    assert.ok(size(ascii) * 4 < DEFAULT_MQTT_LIMITS.maxPacketBytes, `${size(ascii)} bytes`);
    // Every character three bytes in UTF-8 (what maxLength counts as one): still under the cap.
    const wide = hello('€');
    assert.ok(validators.hello.check(wide), 'a valid hello');
    assert.ok(size(wide) < DEFAULT_MQTT_LIMITS.maxPacketBytes, `${size(wide)} bytes`);
  });
});
