import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../test/support/index.ts';
import { ConfigError, configPathFrom, loadConfigFile, parseConfig } from '../src/config.ts';

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

  it('takes the path from --config, else CCTV_AGENT_CONFIG', () => {
    assert.equal(configPathFrom(['--config', 'a.yaml'], {}), 'a.yaml');
    assert.equal(configPathFrom(['--config=b.yaml'], {}), 'b.yaml');
    assert.equal(configPathFrom([], { CCTV_AGENT_CONFIG: 'c.yaml' }), 'c.yaml');
    assert.throws(() => configPathFrom([], {}), /--config <path>/);
  });
});
