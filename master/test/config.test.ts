import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('the master configuration', () => {
  it('lists every problem at once', () => {
    assert.throws(
      () =>
        loadConfig({
          MASTER_TLS: 'off',
          MASTER_HTTP_PORT: 'eighty',
          MASTER_REQUIRE_2FA: 'bosses',
          MASTER_CORS_ORIGINS: '*',
          LOG_LEVEL: 'loud',
          MQTT_URL: 'http://broker',
        }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.problems.length, 5, err.message);
        assert.match(err.message, /^invalid master configuration:/);
        for (const key of [
          'MASTER_HTTP_PORT',
          'MASTER_REQUIRE_2FA',
          'MASTER_CORS_ORIGINS',
          'LOG_LEVEL',
          'MQTT_URL',
        ])
          assert.match(err.message, new RegExp(`- ${key}`));
        return true;
      },
    );
  });

  it('states a single problem as it is', () => {
    assert.throws(
      () => loadConfig({ MASTER_TLS: 'off', MASTER_GRANT_TTL_S: '1' }),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message === 'MASTER_GRANT_TTL_S must be an integer 5-3600, got "1"' &&
        err.problems.length === 1,
    );
  });

  it('checks every variable against its schema, then the rules across them, in one error', () => {
    assert.throws(
      () =>
        loadConfig({
          MQTT_PORT: '70000',
          MASTER_SESSION_HOURS: 'twelve',
          MASTER_COOKIE_SECURE: 'maybe',
          DATABASE_URL: 'mysql://db',
          MASTER_SESSION_KEY: 'short',
          GATEWAY_PUBLIC_URL: 'ftp://gw',
          MASTER_HEARTBEAT_FLUSH_MS: ' 5 ',
        }),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'MQTT_PORT must be a TCP port (0-65535), got "70000"',
          'DATABASE_URL must start with postgresql:// or postgres://',
          'MASTER_HEARTBEAT_FLUSH_MS must be an integer 10-60000, got "5"',
          'MASTER_SESSION_KEY must have at least 32 characters',
          'MASTER_SESSION_HOURS must be an integer 1-720, got "twelve"',
          'MASTER_COOKIE_SECURE must be on or off',
          'GATEWAY_PUBLIC_URL must be an http(s) URL, got "ftp://gw"',
          // TLS is on by default: a rule across variables, checked after the schema.
          'MASTER_TLS_CERT and MASTER_TLS_KEY must name the certificate and key files: TLS is on by default (MASTER_TLS=off serves plain HTTP, for a TLS-terminating proxy in front)',
        ]);
        return true;
      },
    );
  });

  it('reads blank variables as unset and numbers with blanks around them', () => {
    const c = loadConfig({ MASTER_TLS: ' off ', MASTER_HTTP_PORT: '', MASTER_GRANT_TTL_S: ' 60 ' });
    assert.equal(c.httpPort, 8080);
    assert.equal(c.grantTtlS, 60);
    assert.equal(c.tls, null);
  });

  it('reads the one-line install settings, with defaults from the master’s own', () => {
    const d = loadConfig({
      MASTER_TLS: 'off',
      MASTER_HTTP_HOST: '10.0.0.5',
      MASTER_HTTP_PORT: '9000',
    }).install;
    assert.equal(d.publicUrl, 'http://10.0.0.5:9000');
    assert.equal(d.releaseDir, null);
    assert.equal(d.caFile, null);
    assert.equal(d.nodeMqttUrl, null);
    assert.equal(d.nodeGatewayUrl, 'https://127.0.0.1:8090');
    assert.match(d.scriptFile, /deploy\/install\/agent\.sh$/);
    const c = loadConfig({
      MASTER_TLS: 'off',
      MASTER_PUBLIC_URL: 'https://cctv.example.org:8080/',
      MASTER_RELEASE_DIR: '.',
      MASTER_CA_CERT: 'package.json',
      MASTER_NODE_MQTT_URL: 'mqtts://mqtt.example.org:8883',
      MASTER_NODE_GATEWAY_URL: 'https://gw.example.org:8090',
    }).install;
    assert.equal(c.publicUrl, 'https://cctv.example.org:8080');
    assert.equal(c.releaseDir, process.cwd());
    assert.match(c.caFile ?? '', /\/package\.json$/);
    assert.equal(c.nodeMqttUrl, 'mqtts://mqtt.example.org:8883');
    assert.equal(c.nodeGatewayUrl, 'https://gw.example.org:8090');
    assert.throws(
      () =>
        loadConfig({
          MASTER_TLS: 'off',
          MASTER_RELEASE_DIR: '/nonexistent/releases',
          MASTER_CA_CERT: '/nonexistent/ca.crt',
          MASTER_NODE_MQTT_URL: 'http://broker',
        }),
      (err: ConfigError) => {
        assert.deepEqual(err.problems, [
          'MASTER_NODE_MQTT_URL must be an mqtts:// (or mqtt://) URL, got "http://broker"',
          'MASTER_RELEASE_DIR: folder /nonexistent/releases does not exist',
          'MASTER_CA_CERT: file /nonexistent/ca.crt does not exist',
        ]);
        return true;
      },
    );
  });
});
