/**
 * `cmd/probe` against a real RTSP camera that asks for a password (the test RTSP server) and real
 * ffprobe/ffmpeg: what a good URL carries, and each way a URL can be wrong, each with its code and
 * a message that never holds the password.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PROBE_SNAPSHOT_MAX_WIDTH, type ProbeResult, validators } from '@cctv/protocol';
import { freePort, onCleanup } from '../../test/support/index.ts';
import { memoryLogger } from '../../test/support/memory-log.ts';
import {
  ensureRtspServerAvailable,
  type RtspServer,
  startRtspServer,
} from '../../test/support/rtsp-server.ts';
import { probeCommand } from '../src/cameras/probe-command.ts';

const run = promisify(execFile);
const USER = 'viewer';
const PASSWORD = 'Pr0be-s3cret';

/** Width and height from a JPEG's start-of-frame segment. */
function jpegSize(jpeg: Buffer): { width: number; height: number } {
  let at = 2;
  while (at + 9 < jpeg.length) {
    if (jpeg[at] !== 0xff) throw new Error(`no JPEG marker at ${at}`);
    const marker = jpeg[at + 1] ?? 0;
    const length = jpeg.readUInt16BE(at + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
      return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
    at += 2 + length;
  }
  throw new Error('no start-of-frame segment');
}

/** Command lines of the running processes that contain `text`. */
async function processesNaming(text: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').filter((line) => line.includes(text) && !line.startsWith('ps '));
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  assert.fail('the probe succeeded');
}

describe('probing a camera URL from a node', () => {
  let camera: RtspServer;
  let base: string;
  // Its log lines are kept, to check that no password reaches them.
  const { logger, lines } = memoryLogger();
  const probe = probeCommand({ logger });

  before(async () => {
    await ensureRtspServerAvailable();
    camera = await startRtspServer({
      codec: 'h264',
      width: 960,
      height: 540,
      fps: 5,
      bitrate: 800,
      auth: { user: USER, password: PASSWORD },
    });
    base = `rtsp://${USER}:${PASSWORD}@127.0.0.1:${camera.port}`;
  });

  it('answers codec, size, rate, the transports that played, and one small JPEG', async () => {
    const result = (await probe({ url: `${base}/stream` })) as ProbeResult;
    assert.ok(
      validators.probeResult.check(result),
      validators.probeResult.validate(result).ok ? '' : 'schema',
    );
    assert.equal(result.codec, 'h264');
    assert.equal(result.width, 960);
    assert.equal(result.height, 540);
    assert.equal(result.fps, 5);
    assert.deepEqual(result.transports, ['tcp', 'udp']);
    assert.equal(result.hasAudio, false);
    const jpeg = Buffer.from(result.snapshot.base64, 'base64');
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes');
    assert.deepEqual(jpegSize(jpeg), { width: PROBE_SNAPSHOT_MAX_WIDTH, height: 360 });
    assert.ok(jpeg.length < 200_000, `${jpeg.length} bytes`);
  });

  it('tries only the transports asked for', async () => {
    const result = (await probe({ url: `${base}/stream`, transports: ['udp'] })) as ProbeResult;
    assert.deepEqual(result.transports, ['udp']);
  });

  it('lists only the transports that played', async () => {
    const tcpOnly = await startRtspServer({ width: 320, height: 180, fps: 5, protocols: ['tcp'] });
    const result = (await probe({ url: tcpOnly.url })) as ProbeResult;
    assert.deepEqual(result.transports, ['tcp']);
    assert.deepEqual(jpegSize(Buffer.from(result.snapshot.base64, 'base64')), { width: 320, height: 180 });
    const udp = await refusal(probe({ url: tcpOnly.url, transports: ['udp'] }));
    assert.equal(udp.code, 'PROBE_FAILED');
    assert.match(udp.message, /does not offer RTSP over UDP/);
    await tcpOnly.stop();
  });

  it('tells a wrong password, a missing one, a wrong path, a closed port and a bad URL apart', async () => {
    const wrong = await refusal(
      probe({ url: `rtsp://${USER}:not-${PASSWORD}@127.0.0.1:${camera.port}/stream` }),
    );
    assert.equal(wrong.code, 'AUTH_FAILED');
    assert.match(wrong.message, /refused the user name or password/);

    const none = await refusal(probe({ url: `rtsp://127.0.0.1:${camera.port}/stream` }));
    assert.equal(none.code, 'AUTH_FAILED');
    assert.match(none.message, /asks for a user name and password/);

    const path = await refusal(probe({ url: `${base}/no-such-stream` }));
    assert.equal(path.code, 'NOT_FOUND');
    assert.match(path.message, /no stream at \/no-such-stream/);

    const closed = await refusal(
      probe({ url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:${await freePort()}/stream` }),
    );
    assert.equal(closed.code, 'UNREACHABLE');
    assert.match(closed.message, /refused the connection/);

    const ftp = await refusal(probe({ url: 'ftp://x' }));
    assert.equal(ftp.code, 'BAD_URL');
    const ftpWithPassword = await refusal(probe({ url: `ftp://${USER}:${PASSWORD}@x/` }));
    assert.equal(ftpWithPassword.code, 'BAD_URL');
    assert.equal((await refusal(probe({ url: `${base}/stream`, timeoutMs: 5 }))).code, 'BAD_REQUEST');

    for (const r of [wrong, none, path, closed, ftp, ftpWithPassword])
      assert.ok(!r.message.includes(PASSWORD), `password in "${r.message}"`);
    const logged = lines.join('');
    assert.ok(logged.includes(`${USER}:***@127.0.0.1`), 'the probes were logged, redacted');
    assert.ok(!logged.includes(PASSWORD), 'no password in the log');
  });

  it('gives up with TIMEOUT on a server that never answers, and one probe at a time', async () => {
    // Accepts the connection and says nothing, as a camera that hangs.
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onCleanup(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          silent.close(() => resolve());
        }),
    );
    const port = (silent.address() as { port: number }).port;
    const t0 = Date.now();
    const hanging = refusal(
      probe({ url: `rtsp://${USER}:${PASSWORD}@127.0.0.1:${port}/x`, timeoutMs: 2000 }),
    );
    const second = await refusal(probe({ url: `${base}/stream` }));
    assert.equal(second.code, 'BUSY');
    const timedOut = await hanging;
    assert.equal(timedOut.code, 'TIMEOUT', timedOut.message);
    assert.ok(!timedOut.message.includes(PASSWORD));
    assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(await processesNaming(`127.0.0.1:${port}/x`), [], 'ffprobe and ffmpeg were killed');
    // Free again once the first one ended.
    assert.equal(
      ((await probe({ url: `${base}/stream`, transports: ['tcp'] })) as ProbeResult).codec,
      'h264',
    );
  });
});
