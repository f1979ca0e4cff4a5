import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';
import { tempDir } from '../../test/support/index.ts';
import {
  ConfigError,
  cleartextWarnings,
  configPathFrom,
  isLoopbackHost,
  loadConfigFile,
  managementOf,
  parseConfig,
} from '../src/config.ts';

const good = `
nodeId: cam-host-1
mqtt:
  url: mqtt://127.0.0.1:1883
  username: cam-host-1
  password: secret
gateway:
  url: http://127.0.0.1:8081
  token: "upload-token-of-cam-host-1"
spool:
  dir: /var/lib/cctv/spool
heartbeatIntervalS: 10
segmentSeconds: 4
httpPort: 9464
cameras:
  - id: gate
    name: Front gate
    url: rtsp://10.0.0.20:554/stream1
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err.problems.length ? err.problems : [err.message];
  }
  assert.fail('expected the config to be refused');
}

describe('config', () => {
  it('loads a good file and fills defaults', async () => {
    const dir = await tempDir('agent-config-');
    const path = join(dir, 'agent.yaml');
    await writeFile(path, good);
    const config = loadConfigFile(path);
    assert.equal(config.nodeId, 'cam-host-1');
    assert.equal(config.mqtt.password, 'secret');
    assert.equal(config.gateway.token, 'upload-token-of-cam-host-1');
    assert.equal(config.segmentSeconds, 4);
    assert.equal(config.spool.dir, '/var/lib/cctv/spool');
    assert.equal(config.spool.quotaBytes, 2 * 1024 ** 3);
    assert.deepEqual(config.simulatedCamera, { width: 320, height: 180, fps: 10 });
    assert.equal(config.cameras?.[0]?.id, 'gate');
  });

  it('fills every default for a minimal config', () => {
    const config = parseConfig({ nodeId: 'n1', mqtt: { url: 'mqtt://b' }, gateway: { url: 'http://g' } });
    assert.equal(config.heartbeatIntervalS, 5);
    assert.equal(config.segmentSeconds, 2);
    assert.equal(config.spool.dir, './data/agent/spool');
    assert.equal(config.httpPort, undefined);
    assert.equal(config.cameras, undefined);
    assert.equal(config.gateway.token, undefined);
    assert.equal(config.gateway.fallbackUrls, undefined);
    assert.equal(config.gateway.retryPrimaryS, 30);
    // Production keeps the fixed live port; a port that cannot be opened is retried 1 s … 60 s.
    assert.equal(config.live.jsmpeg.port, 8091);
    assert.equal(config.live.jsmpeg.retryInitialMs, 1000);
    assert.equal(config.live.jsmpeg.retryMaxMs, 60_000);
  });

  it('refuses a bad node id with the key and the pattern', () => {
    const problems = problemsOf(() =>
      parseConfig({ nodeId: 'Cam_Host', mqtt: { url: 'mqtt://b' }, gateway: { url: 'http://g' } }),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^nodeId: .*pattern \^\[a-z0-9\]/);
  });

  it('refuses a missing gateway and names it', () => {
    const problems = problemsOf(() => parseConfig({ nodeId: 'n1', mqtt: { url: 'mqtt://b' } }));
    assert.ok(
      problems.some((p) => p.startsWith('gateway: ') && /required/i.test(p)),
      problems.join('\n'),
    );
  });

  it('refuses out-of-range segmentSeconds, unknown keys, bad URLs and duplicate cameras', () => {
    const base = { nodeId: 'n1', mqtt: { url: 'mqtt://b' }, gateway: { url: 'http://g' } };
    assert.match(problemsOf(() => parseConfig({ ...base, segmentSeconds: 10 })).join('\n'), /segmentSeconds/);
    assert.match(problemsOf(() => parseConfig({ ...base, colour: 'red' })).join('\n'), /colour|property/i);
    assert.match(
      problemsOf(() => parseConfig({ ...base, gateway: { url: 'ftp://x' } })).join('\n'),
      /gateway\.url: protocol/,
    );
    assert.match(
      problemsOf(() => parseConfig({ ...base, gateway: { url: 'http://g', token: 'short' } })).join('\n'),
      /gateway\.token/,
    );
    const cam = { id: 'a', name: 'A', url: 'rtsp://x' };
    assert.match(
      problemsOf(() => parseConfig({ ...base, cameras: [cam, cam] })).join('\n'),
      /duplicate camera id "a"/,
    );
    assert.match(
      problemsOf(() =>
        parseConfig({ ...base, live: { jsmpeg: { retryInitialMs: 5000, retryMaxMs: 1000 } } }),
      ).join('\n'),
      /live\.jsmpeg\.retryMaxMs: must be at least live\.jsmpeg\.retryInitialMs/,
    );
  });

  it('takes up to 8 fallback gateways, each checked like gateway.url, none named twice', () => {
    const base = { nodeId: 'n1', mqtt: { url: 'mqtt://b' } };
    const config = parseConfig({
      ...base,
      gateway: {
        url: 'https://g1',
        fallbackUrls: ['https://g2:8090', 'http://127.0.0.1:8090'],
        retryPrimaryS: 5,
      },
    });
    assert.deepEqual(config.gateway.fallbackUrls, ['https://g2:8090', 'http://127.0.0.1:8090']);
    assert.equal(config.gateway.retryPrimaryS, 5);
    const problems = (gateway: Record<string, unknown>) =>
      problemsOf(() => parseConfig({ ...base, gateway: { url: 'https://g1', ...gateway } })).join('\n');
    assert.match(
      problems({ fallbackUrls: ['https://g2', 'ftp://g3'] }),
      /^gateway\.fallbackUrls\.1: protocol/,
    );
    assert.match(problems({ fallbackUrls: ['g2'] }), /^gateway\.fallbackUrls\.0: "g2" is not a URL/);
    assert.match(problems({ fallbackUrls: [''] }), /^gateway\.fallbackUrls\.0: /);
    assert.match(
      problems({ fallbackUrls: Array.from({ length: 9 }, (_, i) => `https://g${i + 2}`) }),
      /^gateway\.fallbackUrls: .*8/,
    );
    assert.match(
      problems({ fallbackUrls: ['https://g2', 'https://G1/'] }),
      /^gateway\.fallbackUrls\.1: the same gateway as gateway\.url/,
    );
    assert.match(problems({ retryPrimaryS: 0 }), /^gateway\.retryPrimaryS: /);
  });

  it('takes tls files that are there and match, and refuses the rest by key', async () => {
    const dir = await tempDir('agent-config-tls-');
    const ca = await ensureLocalCa(join(dir, 'ca'));
    const own = await ensureCertificate(ca, dir, 'agent', { names: ['cam-host-1'] });
    const other = await ensureCertificate(ca, dir, 'other', { names: ['cam-host-2'] });
    const base = { nodeId: 'n1', mqtt: { url: 'mqtts://b' }, gateway: { url: 'https://g' } };
    const config = parseConfig({
      ...base,
      tls: { ca: ca.certFile, cert: own.certFile, key: own.keyFile },
    });
    assert.equal(config.tls?.ca, ca.certFile);
    assert.deepEqual(cleartextWarnings(config), [], 'everything over TLS: nothing to warn of');

    const problems = (tls: Record<string, string>, extra: Record<string, unknown> = {}) =>
      problemsOf(() => parseConfig({ ...base, ...extra, tls })).join('\n');
    assert.match(
      problems({ ca: join(dir, 'missing.pem') }),
      /^tls\.ca: cannot read .*missing\.pem \(ENOENT\)/,
    );
    assert.match(problems({ ca: own.keyFile }), /^tls\.ca: .* is not a PEM certificate/);
    assert.match(problems({ cert: own.certFile }), /^tls\.cert, tls\.key: set both/);
    assert.match(problems({ key: own.keyFile }), /^tls\.cert, tls\.key: set both/);
    assert.match(
      problems({ cert: own.certFile, key: join(dir, 'nope.key') }),
      /^tls\.cert\/tls\.key: cannot read the key .*nope\.key \(ENOENT\)/,
    );
    assert.match(
      problems({ cert: own.certFile, key: other.keyFile }),
      /^tls\.cert\/tls\.key: .* are not a certificate and its key/,
    );
    assert.match(
      problems(
        { cert: own.certFile, key: own.keyFile },
        { live: { jsmpeg: { publicUrl: 'ws://cam-host-1:8091' } } },
      ),
      /live\.jsmpeg\.publicUrl: must be wss:\/\//,
    );
  });

  it('warns of clear text that leaves the host, not of loopback', () => {
    const warnings = cleartextWarnings(
      parseConfig({
        nodeId: 'n1',
        mqtt: { url: 'mqtt://user:secret@master.lan:1883' },
        gateway: { url: 'http://gateway.lan:8090' },
      }),
    );
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /^mqtt\.url: mqtt:\/\/ to master\.lan:1883 is clear text/);
    assert.doesNotMatch(warnings.join('\n'), /secret/, 'no password in the log');
    assert.match(warnings[1] ?? '', /^gateway\.url: http:\/\/ to gateway\.lan:8090 is clear text/);
    assert.match(warnings[2] ?? '', /^live\.jsmpeg: served without TLS/);
    const fallbacks = cleartextWarnings(
      parseConfig({
        nodeId: 'n1',
        mqtt: { url: 'mqtts://master.lan:8883' },
        gateway: { url: 'https://gw1.lan:8090', fallbackUrls: ['https://gw2.lan', 'http://gw3.lan:8090'] },
        live: { jsmpeg: { enabled: false } },
      }),
    );
    assert.deepEqual(fallbacks, [
      'gateway.fallbackUrls.1: http:// to gw3.lan:8090 is clear text (the upload token and the footage): use https://',
    ]);
    const local = cleartextWarnings(
      parseConfig({
        nodeId: 'n1',
        mqtt: { url: 'mqtt://127.0.0.1:1883' },
        gateway: { url: 'http://[::1]:8090', fallbackUrls: ['http://localhost:8091'] },
        live: { jsmpeg: { enabled: false } },
      }),
    );
    assert.deepEqual(local, []);
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'a.localhost'])
      assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['10.0.0.1', 'master.lan', '[::2]', 'localhost.example'])
      assert.equal(isLoopbackHost(host), false, host);
  });

  it('reports unreadable files and bad YAML clearly', async () => {
    assert.match(
      problemsOf(() => loadConfigFile('/nonexistent/agent.yaml'))[0] ?? '',
      /cannot read config file/,
    );
    const dir = await tempDir('agent-config-');
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'nodeId: [unclosed\n');
    assert.match(problemsOf(() => loadConfigFile(path))[0] ?? '', /not valid YAML/);
  });

  it('is file-managed with cameras in the file, master-managed without, and never both', () => {
    const base = { nodeId: 'n1', mqtt: { url: 'mqtt://b' }, gateway: { url: 'http://g' } };
    const cam = { id: 'a', name: 'A', url: 'rtsp://x' };
    assert.equal(managementOf(parseConfig(base)), 'master');
    assert.equal(managementOf(parseConfig({ ...base, cameras: [] })), 'file');
    assert.equal(managementOf(parseConfig({ ...base, cameras: [cam] })), 'file');
    assert.equal(managementOf(parseConfig({ ...base, management: 'file' })), 'file');
    assert.match(
      problemsOf(() => parseConfig({ ...base, management: 'master', cameras: [cam] })).join('\n'),
      /master-managed node .* takes its cameras from the master/,
    );
    assert.match(problemsOf(() => parseConfig({ ...base, management: 'both' })).join('\n'), /management/);
  });

  it('takes the path from --config, else CCTV_AGENT_CONFIG', () => {
    assert.equal(configPathFrom(['--config', 'a.yaml'], {}), 'a.yaml');
    assert.equal(configPathFrom(['--config=b.yaml'], {}), 'b.yaml');
    assert.equal(configPathFrom([], { CCTV_AGENT_CONFIG: 'c.yaml' }), 'c.yaml');
    assert.throws(() => configPathFrom([], {}), /--config <path>/);
  });
});
