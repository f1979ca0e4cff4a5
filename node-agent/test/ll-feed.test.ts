/**
 * The agent's low-latency live feed with real ffmpeg against an HTTP stand-in for the gateway:
 * the upload names the node, carries its token and part target, streams fragmented MP4 from the
 * first byte, and ends (ffmpeg gone) when the gateway answers; the feed command refuses what it
 * cannot send. The gateway's side is `storage-gateway/test/live-feeds.test.ts`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { COMMAND_ERRORS, LIVE_COMMANDS, LIVE_ERRORS } from '@cctv/protocol';
import pino from 'pino';
import { cameraLivePlan, LiveUnsupportedError, simulatedLivePlan } from '../src/live/live-plan.ts';
import { LiveService } from '../src/live/live-service.ts';
import { feedOutputArgs, LowLatencyFeed } from '../src/live/ll-feed.ts';
import { testLiveLimits } from './live-limits.ts';

const run = promisify(execFile);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

interface Received {
  headers: http.IncomingHttpHeaders;
  url: string;
  bytes: Buffer[];
}

/** Takes one feed, answers it after `answerAfterMs` as the gateway does when nobody watches. */
async function gatewayStandIn(answerAfterMs: number) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const r: Received = { headers: req.headers, url: req.url ?? '', bytes: [] };
    received.push(r);
    req.on('data', (c: Buffer) => r.bytes.push(c));
    setTimeout(() => {
      res.setHeader('connection', 'close');
      res.end(JSON.stringify({ ended: 'idle', parts: 1 }));
    }, answerAfterMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const feedsOf = async () => {
  const { stdout } = await run('pgrep', ['-P', String(process.pid), '-f', 'frag_duration']).catch(() => ({
    stdout: '',
  }));
  return stdout.split('\n').filter(Boolean);
};

describe('low-latency live feed', () => {
  it('copies H.264 and H.265 as they come, encodes only what needs it, refuses the rest', () => {
    const o = { transcode: true, maxWidth: 640, partTargetMs: 300 };
    const copy = feedOutputArgs('h264', o);
    assert.deepEqual(copy.slice(copy.indexOf('-c:v'), copy.indexOf('-c:v') + 2), ['-c:v', 'copy']);
    assert.equal(copy[copy.indexOf('-frag_duration') + 1], '240000');
    assert.ok(copy.join(' ').includes('frag_keyframe+empty_moov+default_base_moof'));
    assert.equal(copy.at(-1), 'pipe:1');
    assert.ok(copy.includes('-an'));
    const hevc = feedOutputArgs('hevc', o);
    assert.equal(hevc[hevc.indexOf('-tag:v') + 1], 'hvc1');
    assert.ok(feedOutputArgs('mjpeg', o).includes('libx264'));
    assert.throws(() => feedOutputArgs('mjpeg', { ...o, transcode: false }), LiveUnsupportedError);
  });

  it('streams fMP4 to the gateway with the node credentials, and stops when the gateway answers', async () => {
    const gw = await gatewayStandIn(2500);
    let endedWith = '';
    const feed = new LowLatencyFeed({
      cameraId: 'cam-1',
      plan: simulatedLivePlan({ width: 160, height: 90, fps: 25 }, null),
      streams: async () => ({ video: 'rawvideo', audio: null }),
      transcode: true,
      transcodeMaxWidth: 640,
      partTargetMs: 250,
      stallAfterMs: 10_000,
      target: { url: gw.url, nodeId: 'node-7', token: 'tok-0123456789abcdef' },
      logger,
      onEnded: (reason) => {
        endedWith = reason;
      },
    });
    after(() => feed.stop());
    await feed.start();
    // The request reaches the gateway at once, before the first part: a player may wait on it.
    for (let i = 0; i < 50 && gw.received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(gw.received.length, 1);
    const [got] = gw.received as [Received];
    assert.equal(got.url, '/v1/live-parts/cam-1');
    assert.equal(got.headers['x-cctv-node'], 'node-7');
    assert.equal(got.headers.authorization, 'Bearer tok-0123456789abcdef');
    assert.equal(got.headers['x-cctv-part-target-ms'], '250');
    assert.equal(got.headers['content-type'], 'video/mp4');
    assert.equal((await feedsOf()).length, 1, 'one ffmpeg sends it');
    for (let i = 0; i < 200 && !endedWith; i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(endedWith, /the gateway ended it: 200/);
    const body = Buffer.concat(got.bytes);
    assert.equal(body.toString('latin1', 4, 8), 'ftyp');
    assert.ok(body.includes(Buffer.from('moof')) && body.includes(Buffer.from('mdat')));
    assert.ok(feed.isEnded);
    for (let i = 0; i < 100 && (await feedsOf()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await feedsOf(), [], 'its ffmpeg is gone');
  });

  it('answers the feed command: off, unknown camera, local device, bad arguments', async () => {
    const service = (feedTarget?: () => { url: string; nodeId: string }) =>
      new LiveService({
        limits: testLiveLimits({ maxViewersPerCamera: 2 }),
        peer: { iceServers: [], additionalHostAddresses: [], useIpv6: false, gatherTimeoutMs: 0 },
        planFor: (id) =>
          id === 'usb'
            ? cameraLivePlan(
                { id, name: 'USB', url: '/dev/video0' },
                { readTimeoutS: 5, rememberedTransport: () => undefined },
              )
            : null,
        jsmpeg: null,
        jsmpegPublicUrl: () => 'ws://127.0.0.1:1',
        logger,
        ...(feedTarget ? { feedTarget } : {}),
      });
    const code = async (s: LiveService, args: Record<string, unknown>) => {
      try {
        const request = { reqId: 'r', sentAt: new Date().toISOString(), timeoutMs: 1000, args };
        await s.commands()[LIVE_COMMANDS.hls]?.(args, request);
        return 'ok';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    assert.equal(await code(service(), { camera: 'cam-1' }), LIVE_ERRORS.unsupported);
    const on = service(() => ({ url: 'http://127.0.0.1:1', nodeId: 'n' }));
    assert.equal(await code(on, { camera: 'nope' }), LIVE_ERRORS.unknownCamera);
    assert.equal(await code(on, { camera: 'usb' }), 'LIVE_UNSUPPORTED');
    assert.equal(await code(on, { camera: '../x' }), COMMAND_ERRORS.badRequest);
    assert.equal(await code(on, { camera: 'cam-1', extra: 1 }), COMMAND_ERRORS.badRequest);
    assert.equal(on.feedCount(), 0);
  });
});
