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
});
