import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProbeArgs } from '../src/cameras/probe-command.ts';
import { classifyProbeFailure, probeError, probeTarget } from '../src/cameras/probe-failure.ts';

const URL_WITH_PASSWORD = 'rtsp://admin:S3cret%21@cam.local:554/live/main';
const target = probeTarget(new URL(URL_WITH_PASSWORD));
const classify = (stderr: string, timedOut = false) =>
  classifyProbeFailure(stderr, target, { timedOut, timeoutS: 10, transport: 'udp' });

describe('probe failures from ffmpeg stderr', () => {
  it('names each cause with its code, and whether another transport could help', () => {
    const cases: [string, string, boolean, RegExp][] = [
      [
        `${URL_WITH_PASSWORD}: Server returned 401 Unauthorized (authorization failed)`,
        'AUTH_FAILED',
        true,
        /refused the user name or password/,
      ],
      ['method DESCRIBE failed: 403 Forbidden', 'AUTH_FAILED', true, /403 Forbidden/],
      ['method DESCRIBE failed: 404 Not Found', 'NOT_FOUND', true, /no stream at \/live\/main/],
      [
        'Connection to tcp://cam.local:554?timeout=0 failed: Connection refused',
        'UNREACHABLE',
        true,
        /refused the connection/,
      ],
      [
        'Failed to resolve hostname cam.local: Name or service not known',
        'UNREACHABLE',
        true,
        /unknown to this node/,
      ],
      [
        'Connection to tcp://cam.local:554 failed: No route to host',
        'UNREACHABLE',
        true,
        /no route to cam\.local:554/,
      ],
      ['Connection to tcp://cam.local:554 failed: Connection timed out', 'TIMEOUT', false, /within 10 s/],
      [
        'method SETUP failed: 461 Unsupported transport',
        'PROBE_FAILED',
        false,
        /does not offer RTSP over UDP/,
      ],
      ['no video stream found', 'NO_VIDEO', true, /has no video/],
      [
        `${URL_WITH_PASSWORD}: Invalid data found when processing input`,
        'PROBE_FAILED',
        false,
        /could not be read: rtsp:\/\/admin:\*\*\*@cam/,
      ],
    ];
    for (const [stderr, code, final, message] of cases) {
      const f = classify(stderr);
      assert.equal(f.code, code, stderr);
      assert.equal(f.final, final, stderr);
      assert.match(f.message, message);
      assert.ok(!f.message.includes('S3cret'), f.message);
    }
    assert.equal(classify('', true).code, 'TIMEOUT');
    assert.match(
      classifyProbeFailure('401 Unauthorized', probeTarget(new URL('rtsp://cam/x')), {
        timedOut: false,
        timeoutS: 5,
        transport: 'tcp',
      }).message,
      /asks for a user name and password/,
    );
  });

  it('reports the most telling of several transports’ failures, each in the message', () => {
    const err = probeError([
      { transport: 'tcp', failure: classify('method SETUP failed: 461 Unsupported transport') },
      { transport: 'udp', failure: classify('', true) },
    ]);
    assert.equal(err.code, 'TIMEOUT');
    assert.match(err.message, /^over TCP: .*; over UDP: no answer/);
  });

  it('refuses a URL the node cannot read as BAD_URL, other bad arguments as BAD_REQUEST', () => {
    const code = (args: unknown) => {
      try {
        parseProbeArgs(args);
        return 'ok';
      } catch (err) {
        assert.ok(!(err as Error).message.includes('S3cret'), (err as Error).message);
        return (err as { code: string }).code;
      }
    };
    assert.equal(code({ url: URL_WITH_PASSWORD }), 'ok');
    assert.equal(code({ url: 'http://cam/video.mjpg', transports: ['tcp'] }), 'ok');
    assert.equal(code({ url: 'ftp://admin:S3cret@x/' }), 'BAD_URL');
    assert.equal(code({ url: 'rtsp://' }), 'BAD_URL');
    assert.equal(code({}), 'BAD_URL');
    assert.equal(code({ url: URL_WITH_PASSWORD, timeoutMs: 1 }), 'BAD_REQUEST');
    assert.equal(code({ url: URL_WITH_PASSWORD, extra: true }), 'BAD_REQUEST');
  });
});
