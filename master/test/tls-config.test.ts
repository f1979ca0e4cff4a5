import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

const here = new URL('.', import.meta.url).pathname;
// Any existing files do for the configuration; the server reads them at start.
const files = { MASTER_TLS_CERT: `${here}tls-config.test.ts`, MASTER_TLS_KEY: `${here}tls-config.test.ts` };

describe('the master TLS configuration', () => {
  it('needs a certificate and key unless TLS is turned off by name', () => {
    assert.throws(
      () => loadConfig({}),
      (err: Error) =>
        err instanceof ConfigError && /MASTER_TLS_CERT and MASTER_TLS_KEY must name/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ MASTER_TLS_CERT: '/nowhere.crt', MASTER_TLS_KEY: '/nowhere.key' }),
      /MASTER_TLS_CERT: file \/nowhere.crt does not exist/,
    );
    assert.throws(() => loadConfig({ MASTER_TLS: 'maybe' }), /MASTER_TLS must be on or off/);
    const off = loadConfig({ MASTER_TLS: 'off' });
    assert.equal(off.tls, null);
    assert.equal(off.users.secureCookie, false);
    assert.equal(off.security.mqttTls, null);
  });

  it('with TLS: Secure cookies, a TLS MQTT listener on 8883 with the same certificate, clear text on loopback only', () => {
    const c = loadConfig(files);
    assert.deepEqual(c.tls, { certFile: files.MASTER_TLS_CERT, keyFile: files.MASTER_TLS_KEY });
    assert.equal(c.users.secureCookie, true);
    assert.equal(c.mqttHost, '127.0.0.1');
    assert.deepEqual(c.security.mqttTls, {
      port: 8883,
      host: '0.0.0.0',
      certFile: files.MASTER_TLS_CERT,
      keyFile: files.MASTER_TLS_KEY,
    });
    assert.throws(
      () => loadConfig({ ...files, MQTT_HOST: '0.0.0.0' }),
      /MQTT_HOST must be a loopback address while TLS is on/,
    );
    assert.equal(loadConfig({ ...files, MQTT_HOST: '::1' }).mqttHost, '::1');
    assert.equal(loadConfig({ ...files, MASTER_COOKIE_SECURE: 'off' }).users.secureCookie, false);
    // An external broker is its own business: no listener here to configure.
    assert.equal(loadConfig({ ...files, MQTT_URL: 'mqtts://broker.example:8883' }).security.mqttTls, null);
  });
});
