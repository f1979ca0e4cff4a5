import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

const DB = 'postgresql://u:p@127.0.0.1:5432/cctv';

describe('config', () => {
  it('needs a certificate and key unless TLS is turned off, and names the keys', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ DATABASE_URL: DB, ...env }, '/srv/gw');
        return '';
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems.join('\n');
      }
    };
    assert.match(problems({}), /GATEWAY_TLS_CERT and GATEWAY_TLS_KEY must name/);
    assert.match(
      problems({ GATEWAY_TLS_CERT: 'gw.crt', GATEWAY_TLS_KEY: 'gw.key' }),
      /GATEWAY_TLS_CERT: file \/srv\/gw\/gw.crt does not exist/,
    );
    assert.match(problems({ GATEWAY_TLS: 'maybe' }), /GATEWAY_TLS must be on or off/);
    const here = new URL('.', import.meta.url).pathname;
    const files = { GATEWAY_TLS_CERT: 'config.test.ts', GATEWAY_TLS_KEY: 'config.test.ts' };
    assert.deepEqual(loadConfig({ DATABASE_URL: DB, ...files }, here).tls, {
      certFile: `${here}config.test.ts`,
      keyFile: `${here}config.test.ts`,
    });
  });

  it('fills defaults relative to the working directory', () => {
    const c = loadConfig({ DATABASE_URL: DB, GATEWAY_TLS: 'off' }, '/srv/gw', 'Gw_1.example.org');
    assert.deepEqual(c, {
      host: '0.0.0.0',
      port: 8090,
      tls: null,
      databaseUrl: DB,
      dataDir: '/srv/gw/data/gateway',
      bufferDir: '/srv/gw/data/gateway/buffer',
      nasDir: '/srv/gw/data/nas',
      snapshotDir: '/srv/gw/data/gateway/snapshots',
      maxSegmentBytes: 64 * 1024 * 1024,
      nasRetryInitialMs: 500,
      nasRetryMaxMs: 5_000,
      uploadAuth: 'token',
      uploadAuthCacheS: 10,
      corsOrigins: ['https://127.0.0.1:3000', 'https://localhost:3000'],
      metricsAccess: { token: null, loopback: 'exempt' },
      bufferMaxBytes: 0,
      bufferMinFreeBytes: 64 * 1024 * 1024,
      bufferRetryAfterS: 10,
      nasRequireMount: false,
      nasTimeoutMs: 30_000,
      nasDrainBytesPerS: 0,
      nasParallel: 16,
      nasLagMaxBytes: 256 * 1024 * 1024,
      logLevel: 'info',
      retention: {
        intervalS: 300,
        days: 30,
        cameraDays: new Map(),
        nasMinFreePercent: 10,
        eventPadS: 10,
        eventRetentionDays: 90,
      },
      rendition: {
        dir: '/srv/gw/data/gateway/renditions',
        cacheBytes: 2 * 1024 * 1024 * 1024,
        concurrency: 2,
        queueMax: 32,
        timeoutMs: 60_000,
      },
      live: { windowSegments: 3, maxAgeS: 30, feedIdleS: 20, feedMaxBytes: 32 * 1024 * 1024 },
      cluster: { gatewayId: 'gw-1-example-org', peerUrl: null, peerTimeoutMs: 3000 },
    });
    const d = loadConfig(
      { DATABASE_URL: DB, GATEWAY_TLS: 'off', GATEWAY_DATA_DIR: '/var/lib/gw', GATEWAY_NAS_DIR: '/mnt/nas' },
      '/x',
    );
    assert.equal(d.bufferDir, '/var/lib/gw/buffer');
    assert.equal(d.nasDir, '/mnt/nas');
    assert.equal(d.snapshotDir, '/var/lib/gw/snapshots');
    const e = loadConfig({ DATABASE_URL: DB, GATEWAY_TLS: 'off', GATEWAY_SNAPSHOT_DIR: 'snaps' }, '/x');
    assert.equal(e.snapshotDir, '/x/snaps');
  });

  it('reads the upload credentials and buffer limits', () => {
    const c = loadConfig({
      DATABASE_URL: DB,
      GATEWAY_TLS: 'off',
      GATEWAY_UPLOAD_AUTH: 'off',
      GATEWAY_UPLOAD_AUTH_CACHE_S: '0',
      GATEWAY_BUFFER_MAX_BYTES: '1048576',
      GATEWAY_BUFFER_MIN_FREE_BYTES: '0',
      GATEWAY_BUFFER_RETRY_AFTER_S: '3',
    });
    assert.equal(c.uploadAuth, 'off');
    assert.equal(c.uploadAuthCacheS, 0);
    assert.equal(c.bufferMaxBytes, 1024 * 1024);
    assert.equal(c.bufferMinFreeBytes, 0);
    assert.equal(c.bufferRetryAfterS, 3);
    assert.throws(
      () =>
        loadConfig({
          DATABASE_URL: DB,
          GATEWAY_TLS: 'off',
          GATEWAY_UPLOAD_AUTH: 'none',
          GATEWAY_BUFFER_RETRY_AFTER_S: '0',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 2);
        assert.match(err.message, /GATEWAY_UPLOAD_AUTH must be one of token, off/);
        assert.match(err.message, /GATEWAY_BUFFER_RETRY_AFTER_S must be an integer from 1/);
        return true;
      },
    );
  });

  it('names the gateway among its peers: a safe id (from the host name by default) and its URL', () => {
    const cluster = (env: Record<string, string>, host = 'gw-a') =>
      loadConfig({ DATABASE_URL: DB, GATEWAY_TLS: 'off', ...env }, '/x', host).cluster;
    assert.equal(cluster({}, 'CCTV-Gateway_01.site.lan').gatewayId, 'cctv-gateway-01-site-lan');
    assert.equal(cluster({}, `-${'h'.repeat(80)}`).gatewayId, 'h'.repeat(63));
    assert.deepEqual(
      cluster({
        GATEWAY_ID: ' gw-east ',
        GATEWAY_PEER_URL: 'https://gw-east.site.lan:8090/cctv/',
        GATEWAY_PEER_TIMEOUT_MS: '1500',
      }),
      { gatewayId: 'gw-east', peerUrl: 'https://gw-east.site.lan:8090/cctv', peerTimeoutMs: 1500 },
    );
    // Behind a TLS-terminating proxy the peer URL may be either; with TLS on, https only.
    assert.equal(cluster({ GATEWAY_PEER_URL: 'http://10.0.0.7:8090' }).peerUrl, 'http://10.0.0.7:8090');
    const problems = (env: Record<string, string>, host = 'gw-a') => {
      try {
        loadConfig({ DATABASE_URL: DB, ...env }, '/x', host);
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.problems;
      }
    };
    const tls = { GATEWAY_TLS_CERT: '/etc/hostname', GATEWAY_TLS_KEY: '/etc/hostname' };
    assert.deepEqual(problems({ ...tls, GATEWAY_PEER_URL: 'https://gw-a:8090' }), []);
    const bad = problems({
      ...tls,
      GATEWAY_ID: 'GW/../a',
      GATEWAY_PEER_URL: 'http://gw-a:8090',
      GATEWAY_PEER_TIMEOUT_MS: '5',
    });
    assert.equal(bad.length, 3, bad.join('\n'));
    assert.match(bad.join('\n'), /GATEWAY_ID must match/);
    assert.match(bad.join('\n'), /GATEWAY_PEER_URL must be an https:\/\/ URL/);
    assert.match(bad.join('\n'), /GATEWAY_PEER_TIMEOUT_MS must be an integer from 100/);
    for (const url of [
      'https://user:pw@gw-a',
      'https://gw-a/?x=1',
      'https://gw-a/#f',
      'gw-a:8090',
      'ftp://gw-a',
    ])
      assert.match(problems({ ...tls, GATEWAY_PEER_URL: url }).join(), /GATEWAY_PEER_URL/, url);
    assert.match(problems({ GATEWAY_TLS: 'off' }, '___').join(), /host name "___" gives no valid id/);
  });

  it('reads the origins allowed to read footage from a browser, never "any"', () => {
    assert.deepEqual(
      loadConfig({ DATABASE_URL: DB, GATEWAY_TLS: 'off', DASHBOARD_PUBLIC_URL: 'https://cctv.example.org/' })
        .corsOrigins,
      ['https://cctv.example.org'],
    );
    // GATEWAY_CORS_ORIGINS wins over the dashboard's URL.
    assert.deepEqual(
      loadConfig({
        DATABASE_URL: DB,
        GATEWAY_TLS: 'off',
        DASHBOARD_PUBLIC_URL: 'https://cctv.example.org',
        GATEWAY_CORS_ORIGINS: ' https://a.example.org, http://10.0.0.5:3000 ,',
      }).corsOrigins,
      ['https://a.example.org', 'http://10.0.0.5:3000'],
    );
    for (const bad of ['*', 'https://a.example.org/path', 'ftp://a.example.org', 'a.example.org'])
      assert.throws(
        () =>
          loadConfig({
            DATABASE_URL: DB,
            GATEWAY_TLS: 'off',
            GATEWAY_CORS_ORIGINS: `https://ok.example.org,${bad}`,
          }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, bad);
          assert.equal(err.problems.length, 1, bad);
          assert.match(err.message, /GATEWAY_CORS_ORIGINS must list origins/, bad);
          return true;
        },
      );
    assert.throws(
      () => loadConfig({ DATABASE_URL: DB, GATEWAY_TLS: 'off', DASHBOARD_PUBLIC_URL: '*' }),
      /DASHBOARD_PUBLIC_URL must list origins/,
    );
  });

  it('lists every bad key at once', () => {
    assert.throws(
      () =>
        loadConfig({
          GATEWAY_TLS: 'off',
          GATEWAY_PORT: '80a',
          GATEWAY_MAX_SEGMENT_BYTES: '0',
          LOG_LEVEL: 'loud',
          GATEWAY_NAS_RETRY_INITIAL_MS: '1000',
          GATEWAY_NAS_RETRY_MAX_MS: '10',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 5);
        assert.match(err.message, /DATABASE_URL is required/);
        assert.match(err.message, /GATEWAY_PORT must be an integer/);
        assert.match(err.message, /GATEWAY_MAX_SEGMENT_BYTES/);
        assert.match(err.message, /LOG_LEVEL must be one of/);
        assert.match(err.message, /GATEWAY_NAS_RETRY_MAX_MS/);
        return true;
      },
    );
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /postgresql:\/\//);
    assert.throws(
      () =>
        loadConfig({
          DATABASE_URL: DB,
          GATEWAY_TLS: 'off',
          GATEWAY_NAS_DIR: '/mnt/nas',
          GATEWAY_SNAPSHOT_DIR: '/mnt/nas',
        }),
      /GATEWAY_SNAPSHOT_DIR must differ/,
    );
  });

  it('checks every variable against its schema, then the rules across them, in one error', () => {
    assert.throws(
      () =>
        loadConfig(
          {
            DATABASE_URL: DB,
            GATEWAY_TLS: 'sometimes',
            GATEWAY_NAS_PARALLEL: '64',
            GATEWAY_NAS_REQUIRE_MOUNT: 'yes',
            GATEWAY_RETENTION_DAYS: '-1',
            GATEWAY_TRANSCODE_CONCURRENCY: 'two',
            GATEWAY_LIVE_WINDOW: '0',
            GATEWAY_RETENTION_CAMERA_DAYS: 'cam-a=7,cam-a=8',
            GATEWAY_NAS_DIR: 'data/gateway/buffer',
          },
          '/srv/gw',
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          'GATEWAY_TLS must be on or off, got "sometimes"',
          'GATEWAY_NAS_REQUIRE_MOUNT must be one of true, false, got "yes"',
          'GATEWAY_NAS_PARALLEL must be an integer from 1 to 32, got "64"',
          'GATEWAY_RETENTION_DAYS must be an integer from 0 to 3650, got "-1"',
          'GATEWAY_TRANSCODE_CONCURRENCY must be an integer from 1 to 64, got "two"',
          'GATEWAY_LIVE_WINDOW must be an integer from 1 to 100, got "0"',
          // Rules across variables and lists, checked after the schema.
          'GATEWAY_BUFFER_DIR and GATEWAY_NAS_DIR must differ',
          'GATEWAY_RETENTION_CAMERA_DAYS: cam-a is listed twice',
        ]);
        return true;
      },
    );
  });
});
