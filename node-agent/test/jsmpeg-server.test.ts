/**
 * The jsmpeg live fallback against real ffmpeg (a lavfi test pattern through a feeder), real
 * WebSocket clients and, once, a real JSMpeg player in Chromium.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import type { CommandRequest } from '@cctv/protocol';
import { ensureCertificate, ensureLocalCa } from '@cctv/tls';
import pino from 'pino';
import WebSocket from 'ws';
import { launchChromium } from '../../test/support/browser.ts';
import { onCleanup, processAlive, repoRoot, tempDir, waitFor } from '../../test/support/index.ts';
import { parsePidStat } from '../src/host/proc-files.ts';
import {
  JsmpegServer,
  type JsmpegServerOptions,
  type JsmpegStatus,
  type LiveInput,
} from '../src/live/jsmpeg-server.ts';
import type { LivePlan } from '../src/live/live-plan.ts';
import { LiveService } from '../src/live/live-service.ts';
import type { Sleep } from '../src/process/backoff.ts';
import { testLiveLimits } from './live-limits.ts';

const JSMPEG_UMD = `${repoRoot}node_modules/@cycjimmy/jsmpeg-player/dist/jsmpeg-player.umd.min.js`;

/**
 * A cheap moving test pattern as raw video on stdout, paced in real time. Y4M rather than NUT:
 * its header gives the frame rate, so the muxer starts in ~0.2 s instead of probing ~20 frames.
 */
function patternInput(extra: string[] = []): LiveInput {
  return {
    url: 'pipe:0',
    feeder: {
      command: 'ffmpeg',
      args: [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=10', ...extra],
        ...['-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', 'pipe:1'],
      ],
    },
  };
}

const inputs: Record<string, LiveInput> = {
  'cam-1': patternInput(),
  'cam-2': patternInput(),
  // Ends by itself after a second, like a camera that drops the stream.
  short: patternInput(['-t', '1']),
};

interface Harness {
  server: JsmpegServer;
  port: number;
  refused: string[];
  viewerCounts: [string, number][];
  advance(ms: number): void;
}

/** What every server in these tests shares: loopback, a free port, the pattern inputs. */
const baseOptions = (): JsmpegServerOptions => ({
  host: '127.0.0.1',
  port: 0,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  inputFor: async (id) => inputs[id] ?? null,
  bitrateKbps: 400,
  maxWidth: 640,
  fps: 15,
  maxViewersPerCamera: 4,
  ticketTtlMs: 30_000,
  lingerMs: 0,
});

async function startServer(t: TestContext, overrides: Partial<JsmpegServerOptions> = {}): Promise<Harness> {
  let clock = Date.now();
  const refused: string[] = [];
  const viewerCounts: [string, number][] = [];
  const server = new JsmpegServer({
    ...baseOptions(),
    now: () => clock,
    onRefused: (reason) => refused.push(reason),
    onViewers: (id, n) => viewerCounts.push([id, n]),
    ...overrides,
  });
  onCleanup(() => server.stop());
  t.after(() => server.stop());
  const status = await server.start();
  assert.ok(status.listening, 'listening');
  return { server, port: status.port, refused, viewerCounts, advance: (ms) => (clock += ms) };
}

interface Viewer {
  ws: WebSocket;
  received(): Buffer;
  closed: Promise<{ code: number; reason: string }>;
}

/** Connects a viewer; resolves once the socket is open. */
async function connect(port: number, path: string, ticket: string): Promise<Viewer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?ticket=${encodeURIComponent(ticket)}`);
  onCleanup(() => ws.terminate());
  const chunks: Buffer[] = [];
  let size = 0;
  ws.on('message', (data: Buffer) => {
    // Enough to check the start of the stream without growing for the whole test.
    if (size < 512 * 1024) chunks.push(data);
    size += data.length;
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, received: () => Buffer.concat(chunks), closed };
}

/** The HTTP status an upgrade to this path is refused with; fails if it is accepted. */
function refusal(port: number, pathAndQuery: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${pathAndQuery}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`${pathAndQuery} was accepted`));
    });
    ws.once('error', () => {});
  });
}

function assertTransportStream(data: Buffer, packets = 5): void {
  assert.ok(data.length >= packets * 188, `only ${data.length} bytes`);
  for (let i = 0; i < packets; i++) assert.equal(data[i * 188], 0x47, `no sync byte at packet ${i}`);
}

/** ffmpeg processes this test process started, told apart by their arguments. */
async function ffmpegChildren(): Promise<{ muxers: number[]; feeders: number[] }> {
  const muxers: number[] = [];
  const feeders: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = parsePidStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      if (stat?.ppid !== process.pid || stat.state === 'Z') continue;
      const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (!args[0]?.endsWith('ffmpeg')) continue;
      if (args.includes('mpeg1video')) muxers.push(stat.pid);
      else if (args.includes('lavfi')) feeders.push(stat.pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return { muxers, feeders };
}

async function cpuTicks(pid: number): Promise<number> {
  return parsePidStat(await readFile(`/proc/${pid}/stat`, 'utf8'))?.ticks ?? 0;
}

describe('jsmpeg live server', { timeout: 60_000 }, () => {
  it('streams MPEG-TS to a viewer holding a ticket', async (t) => {
    const h = await startServer(t);
    const opened = await h.server.open('cam-1');
    assert.equal(opened.path, '/live/jsmpeg/cam-1');
    assert.match(opened.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(Math.abs(Date.parse(opened.expiresAt) - (Date.now() + 30_000)) < 5_000);
    const started = Date.now();
    const viewer = await connect(h.port, opened.path, opened.ticket);
    await waitFor('first bytes', () => viewer.received().length > 0, 15_000, 20);
    const firstBytesMs = Date.now() - started;
    await waitFor('five TS packets', () => viewer.received().length >= 5 * 188, 15_000, 20);
    assertTransportStream(viewer.received());
    assert.notEqual(viewer.received().subarray(0, 4).toString(), 'jsmp', 'no legacy jsmp header');
    assert.equal(h.server.viewers('cam-1'), 1);
    assert.deepEqual(h.viewerCounts, [['cam-1', 1]]);

    // Figures for the report: how soon video flows, and what the muxer costs at 320x180.
    const { muxers, feeders } = await ffmpegChildren();
    assert.equal(muxers.length, 1);
    const [muxer] = muxers as [number];
    const before = { muxer: await cpuTicks(muxer), feeder: feeders[0] ? await cpuTicks(feeders[0]) : 0 };
    const bytesBefore = viewer.received().length;
    await sleep(3000);
    const muxerCpu = (await cpuTicks(muxer)) - before.muxer; // ticks of 10 ms over 3 s
    const feederCpu = feeders[0] ? (await cpuTicks(feeders[0])) - before.feeder : 0;
    const kbps = ((viewer.received().length - bytesBefore) * 8) / 3 / 1000;
    t.diagnostic(
      `first bytes after ${firstBytesMs} ms; muxer CPU ${(muxerCpu / 3).toFixed(1)}% of a core, ` +
        `feeder ${(feederCpu / 3).toFixed(1)}%; ${kbps.toFixed(0)} kbit/s to the viewer`,
    );
    viewer.ws.close();
    assert.equal((await viewer.closed).code, 1005);
  });

  it('refuses spent, wrong-camera, expired and missing tickets, unknown paths and bad ids', async (t) => {
    const h = await startServer(t);
    const used = await h.server.open('cam-1');
    const viewer = await connect(h.port, used.path, used.ticket);
    assert.equal(await refusal(h.port, `${used.path}?ticket=${used.ticket}`), 401, 'reused ticket');

    const forCam1 = await h.server.open('cam-1');
    assert.equal(await refusal(h.port, `/live/jsmpeg/cam-2?ticket=${forCam1.ticket}`), 401, 'wrong camera');
    assert.equal(await refusal(h.port, `${forCam1.path}?ticket=${forCam1.ticket}`), 401, 'burnt by misuse');

    const late = await h.server.open('cam-1');
    h.advance(30_001);
    assert.equal(await refusal(h.port, `${late.path}?ticket=${late.ticket}`), 401, 'expired');
    assert.equal(await refusal(h.port, '/live/jsmpeg/cam-1'), 401, 'no ticket');
    assert.equal(await refusal(h.port, '/live/jsmpeg/cam-1?ticket=forged'), 401, 'unknown ticket');
    assert.equal(await refusal(h.port, '/live/other/cam-1'), 404);
    assert.equal(await refusal(h.port, '/live/jsmpeg/cam-1/x'), 404);
    assert.equal(await refusal(h.port, '/live/jsmpeg/'), 404);
    assert.equal(await refusal(h.port, '/live/jsmpeg/Not_An_Id'), 400);
    assert.equal(await refusal(h.port, '/live/jsmpeg/%E0%A4%A'), 400);
    assert.deepEqual(h.refused, [
      'unknown-ticket',
      'wrong-camera',
      'unknown-ticket',
      'expired-ticket',
      'no-ticket',
      'unknown-ticket',
      'bad-path',
      'bad-path',
      'bad-path',
      'bad-camera-id',
      'bad-camera-id',
    ]);
    const plain = await fetch(`http://127.0.0.1:${h.port}/live/jsmpeg/cam-1`);
    assert.equal(plain.status, 426, 'a plain request is told to upgrade');

    // The refusals left the server and the first viewer untouched.
    assert.equal(h.server.viewers('cam-1'), 1);
    await waitFor('video after the refusals', () => viewer.received().length >= 5 * 188, 15_000, 20);
    assertTransportStream(viewer.received());
    const fresh = await h.server.open('cam-1');
    const second = await connect(h.port, fresh.path, fresh.ticket);
    assert.equal(h.server.viewers('cam-1'), 2);
    second.ws.close();
  });

  it('limits viewers per camera, counting unused tickets, and knows its cameras', async (t) => {
    const h = await startServer(t, { maxViewersPerCamera: 2 });
    const first = await h.server.open('cam-1');
    await h.server.open('cam-1');
    await assert.rejects(h.server.open('cam-1'), { code: 'LIVE_LIMIT' });
    await h.server.open('cam-2');
    await assert.rejects(h.server.open('nope'), { code: 'UNKNOWN_CAMERA' });
    await assert.rejects(h.server.open('../etc'), { code: 'UNKNOWN_CAMERA' });

    // A ticket turned into a viewer still holds its place.
    const viewer = await connect(h.port, first.path, first.ticket);
    await assert.rejects(h.server.open('cam-1'), { code: 'LIVE_LIMIT' });
    // The unused one expires and frees its place; the viewer keeps its own.
    h.advance(30_001);
    await h.server.open('cam-1');
    await assert.rejects(h.server.open('cam-1'), { code: 'LIVE_LIMIT' });
    viewer.ws.close();
    await waitFor('the viewer gone', () => h.server.viewers('cam-1') === 0);
    await h.server.open('cam-1');
  });

  it('shares one muxer between viewers and ends ffmpeg once the last one leaves', async (t) => {
    const h = await startServer(t, { lingerMs: 1500 });
    const a = await h.server.open('cam-1');
    const b = await h.server.open('cam-1');
    const va = await connect(h.port, a.path, a.ticket);
    await waitFor('video for the first viewer', () => va.received().length >= 5 * 188, 15_000, 20);
    const vb = await connect(h.port, b.path, b.ticket);
    await waitFor('video for the second viewer', () => vb.received().length >= 20 * 188, 15_000, 20);
    // The second viewer joined mid-stream and still starts on a whole packet.
    assertTransportStream(vb.received(), 20);
    const { muxers, feeders } = await ffmpegChildren();
    assert.equal(muxers.length, 1, 'one ffmpeg for both viewers');
    assert.equal(feeders.length, 1);
    const pids = [...muxers, ...feeders];

    va.ws.close();
    await va.closed;
    await sleep(300);
    assert.ok(pids.every(processAlive), 'still running for the second viewer');
    vb.ws.close();
    await vb.closed;
    await sleep(500);
    assert.ok(pids.every(processAlive), 'kept for lingerMs');
    // A viewer back within lingerMs gets the same muxer.
    const c = await h.server.open('cam-1');
    const vc = await connect(h.port, c.path, c.ticket);
    await waitFor('video for the returning viewer', () => vc.received().length >= 5 * 188, 15_000, 20);
    assertTransportStream(vc.received());
    assert.deepEqual((await ffmpegChildren()).muxers, muxers);

    vc.ws.close();
    await vc.closed;
    await waitFor('ffmpeg gone', () => !pids.some(processAlive), 10_000, 50);
    assert.deepEqual(await ffmpegChildren(), { muxers: [], feeders: [] });
    assert.deepEqual(h.viewerCounts.at(-1), ['cam-1', 0]);
  });

  it('starts a late viewer on a whole TS packet when the output arrives cut anywhere', async (t) => {
    // ffmpeg happens to write whole packets; this stand-in passes its output on in 100-byte
    // pieces, as a pipe may deliver it.
    const dir = await tempDir('jsmpeg-');
    const ffmpegPath = join(dir, 'ffmpeg-rechunked');
    await writeFile(
      ffmpegPath,
      `#!${process.execPath}
const { spawn } = require('node:child_process');
const child = spawn('ffmpeg', process.argv.slice(2), { stdio: ['inherit', 'pipe', 'inherit'] });
let held = Buffer.alloc(0);
child.stdout.on('data', (d) => {
  held = Buffer.concat([held, d]);
  for (; held.length >= 100; held = held.subarray(100)) process.stdout.write(held.subarray(0, 100));
});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code) => process.exit(code ?? 1));
`,
    );
    await chmod(ffmpegPath, 0o755);
    const h = await startServer(t, { ffmpegPath });
    const a = await h.server.open('cam-1');
    const b = await h.server.open('cam-1');
    const va = await connect(h.port, a.path, a.ticket);
    await waitFor('video for the first viewer', () => va.received().length >= 20 * 188, 15_000, 20);
    const vb = await connect(h.port, b.path, b.ticket);
    await waitFor('video for the late viewer', () => vb.received().length >= 20 * 188, 15_000, 20);
    assertTransportStream(va.received(), 20);
    assertTransportStream(vb.received(), 20);
  });

  it('ends a camera: viewers closed with 4000, ffmpeg killed, unused tickets void', async (t) => {
    const h = await startServer(t, { lingerMs: 60_000 });
    const a = await h.server.open('cam-1');
    const spare = await h.server.open('cam-1');
    const other = await h.server.open('cam-2');
    const va = await connect(h.port, a.path, a.ticket);
    const vo = await connect(h.port, other.path, other.ticket);
    await waitFor('video', () => va.received().length > 0 && vo.received().length > 0, 15_000, 20);
    const before = await ffmpegChildren();
    assert.equal(before.muxers.length, 2);

    h.server.endCamera('cam-1', 'camera restarted');
    assert.deepEqual(await va.closed, { code: 4000, reason: 'camera restarted' });
    assert.equal(h.server.viewers('cam-1'), 0);
    assert.equal(await refusal(h.port, `${spare.path}?ticket=${spare.ticket}`), 401);
    await waitFor('one muxer left', async () => (await ffmpegChildren()).muxers.length === 1, 10_000, 50);
    assert.equal(vo.ws.readyState, WebSocket.OPEN, 'the other camera is untouched');

    // stop() closes the rest and returns only once every ffmpeg has exited.
    await h.server.stop();
    assert.equal((await vo.closed).code, 1001);
    assert.deepEqual(await ffmpegChildren(), { muxers: [], feeders: [] });
  });

  it('closes viewers with 4001 when the source ends by itself', async (t) => {
    const h = await startServer(t);
    const s = await h.server.open('short');
    const viewer = await connect(h.port, s.path, s.ticket);
    assert.deepEqual(await viewer.closed, { code: 4001, reason: 'source ended' });
    assert.ok(viewer.received().length > 0, 'it streamed before it ended');
    await waitFor('ffmpeg gone', async () => (await ffmpegChildren()).muxers.length === 0, 10_000, 50);
    assert.equal(h.server.viewers('short'), 0);
  });

  it('closes viewers with 4001 when ffmpeg cannot be started, and keeps serving', async (t) => {
    const h = await startServer(t, { ffmpegPath: '/nonexistent/ffmpeg' });
    const s = await h.server.open('cam-1');
    const viewer = await connect(h.port, s.path, s.ticket);
    assert.deepEqual(await viewer.closed, { code: 4001, reason: 'source ended' });
    await waitFor('the feeder gone', async () => (await ffmpegChildren()).feeders.length === 0, 10_000, 50);
    const again = await h.server.open('cam-1');
    assert.equal((await connect(h.port, again.path, again.ticket)).ws.readyState, WebSocket.OPEN);
  });

  it('plays in Chromium through the JSMpeg player', async (t) => {
    const h = await startServer(t);
    const opened = await h.server.open('cam-1');
    const browser = await launchChromium();
    onCleanup(() => browser.close());
    t.after(() => browser.close());
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.setContent('<canvas id="c" width="320" height="180"></canvas>');
    await page.addScriptTag({ path: JSMPEG_UMD });
    const url = `ws://127.0.0.1:${h.port}${opened.path}?ticket=${opened.ticket}`;
    // A script, not a function: tsx would compile a function with helpers the page lacks.
    await page.addScriptTag({
      content: `
        window.decoded = 0;
        new JSMpeg.Player(${JSON.stringify(url)}, {
          canvas: document.getElementById('c'),
          autoplay: true,
          audio: false,
          // The 2D renderer, so the test can read pixels back (WebGL may drop its buffer).
          disableGl: true,
          // A spent ticket cannot reconnect; the dashboard asks for a new one instead.
          reconnectInterval: 0,
          onVideoDecode: function () { window.decoded++; },
        });`,
    });
    const decoded = async () => Number(await page.evaluate('window.decoded'));
    await waitFor('decoded frames', async () => (await decoded()) >= 5, 20_000, 100);
    const earlier = await decoded();
    await sleep(1000);
    assert.ok((await decoded()) > earlier, 'frames keep coming');
    // Distinct colours (4 bits a channel) over a sample of pixels: a blank canvas has one.
    const colours = Number(
      await page.evaluate(`(() => {
        const c = document.getElementById('c');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < px.length; i += 4 * 7) seen.add((px[i] >> 4) * 256 + (px[i + 1] >> 4) * 16 + (px[i + 2] >> 4));
        return seen.size;
      })()`),
    );
    assert.ok(colours > 20, `the canvas shows the pattern (${colours} colours)`);
    assert.deepEqual(pageErrors, []);
    assert.equal(h.server.viewers('cam-1'), 1);
  });
});

/** A listener holding a loopback port, as another program on the host would. */
async function occupyPort(): Promise<{ port: number; free(): Promise<void> }> {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  let freed: Promise<void> | null = null;
  const free = () => {
    freed ??= new Promise<void>((resolve) => blocker.close(() => resolve()));
    return freed;
  };
  onCleanup(free);
  return { port, free };
}

/** A sleep the test ends by hand: the delays asked for, and wake() to end the current one. */
function manualSleep(): { sleep: Sleep; delays: number[]; wake(): void } {
  const delays: number[] = [];
  let pending: ((done: boolean) => void) | null = null;
  return {
    delays,
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        delays.push(ms);
        pending = resolve;
        signal?.addEventListener('abort', () => resolve(false), { once: true });
      }),
    wake: () => pending?.(true),
  };
}

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

const WARN = 40;

describe('jsmpeg live server whose port cannot be opened', { timeout: 60_000 }, () => {
  it('stays down without failing, refuses tickets, retries with backoff, then serves on that port', async (t) => {
    const taken = await occupyPort();
    let clock = Date.now();
    const logs: LogLine[] = [];
    const statuses: JsmpegStatus[] = [];
    const failures: string[] = [];
    const retry = manualSleep();
    const server = new JsmpegServer({
      ...baseOptions(),
      port: taken.port,
      logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) }),
      now: () => clock,
      backoff: { initialMs: 1000, maxMs: 4000 },
      sleep: retry.sleep,
      onStatus: (status) => statuses.push(status),
      onListenFailed: (code) => failures.push(code),
    });
    onCleanup(() => server.stop());
    t.after(() => server.stop());
    const live = new LiveService({
      limits: testLiveLimits(),
      peer: { iceServers: [], useIpv6: false, gatherTimeoutMs: 0 },
      // Only its existence matters to jsmpeg-open; the server has its own inputs.
      planFor: (id) => (inputs[id] ? ({ label: id } as LivePlan) : null),
      jsmpeg: server,
      jsmpegPublicUrl: () => `ws://127.0.0.1:${server.port ?? 0}`,
      logger: pino({ level: 'silent' }),
    });
    const jsmpegOpen = live.commands()['jsmpeg-open'];
    assert.ok(jsmpegOpen);
    const request = { reqId: 'r-1' } as CommandRequest;

    // The first attempt fails; start() says so instead of throwing.
    const inUse = `port ${taken.port} in use`;
    assert.deepEqual(await server.start(), { listening: false, reason: inUse });
    assert.equal(server.port, null);
    assert.deepEqual(live.status(), { jsmpeg: 'unavailable', webrtc: 'ok', reason: `jsmpeg: ${inUse}` });
    // No ticket for a server that is not listening: a clear, coded refusal instead.
    await assert.rejects(server.open('cam-1'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LIVE_UNAVAILABLE');
      assert.match(
        err.message,
        new RegExp(`jsmpeg live view is unavailable on this node \\(${inUse}; retrying\\)`),
      );
      return true;
    });
    await assert.rejects(Promise.resolve(jsmpegOpen({ camera: 'cam-1' }, request)), {
      code: 'LIVE_UNAVAILABLE',
    });

    // Retries back off (doubling, capped) and are logged once, not once each.
    for (let n = 1; n <= 4; n++) {
      await waitFor(`wait ${n} asked for`, () => retry.delays.length === n, 5000, 5);
      retry.wake();
      await waitFor(`attempt ${n + 1} failed`, () => failures.length === n + 1, 5000, 5);
    }
    assert.deepEqual(retry.delays.slice(0, 4), [1000, 2000, 4000, 4000]);
    assert.deepEqual(failures, Array(5).fill('EADDRINUSE'));
    const warned = () => logs.filter((l) => l.level === WARN);
    assert.equal(warned().length, 1, 'one warning for five failed attempts');
    assert.equal(warned()[0]?.reason, inUse);
    assert.match(warned()[0]?.msg ?? '', /cannot listen: live view unavailable, recording goes on/);
    assert.deepEqual(statuses, [{ listening: false, reason: inUse }], 'one change reported');
    // A minute on, a still failing attempt is worth a line again.
    clock += 60_000;
    await waitFor('wait 5 asked for', () => retry.delays.length === 5, 5000, 5);
    retry.wake();
    await waitFor('attempt 6 failed', () => failures.length === 6, 5000, 5);
    assert.equal(warned().length, 2);
    assert.match(warned()[1]?.msg ?? '', /still cannot listen/);

    // The port is freed: the next attempt listens on it, and live view is back.
    await taken.free();
    await waitFor('wait 6 asked for', () => retry.delays.length === 6, 5000, 5);
    retry.wake();
    await waitFor('listening', () => server.status().listening, 5000, 5);
    assert.equal(server.port, taken.port);
    assert.deepEqual(statuses.at(-1), { listening: true, port: taken.port });
    assert.deepEqual(live.status(), { jsmpeg: 'ok', webrtc: 'ok' });
    assert.ok(logs.some((l) => l.msg === 'jsmpeg live server listening: live view available again'));
    await sleep(50);
    assert.equal(retry.delays.length, 6, 'no more retries once listening');
    const opened = (await jsmpegOpen({ camera: 'cam-1' }, request)) as { url: string };
    const url = new URL(opened.url);
    assert.equal(url.port, String(taken.port));
    const viewer = await connect(taken.port, url.pathname, url.searchParams.get('ticket') ?? '');
    await waitFor('video after the recovery', () => viewer.received().length >= 5 * 188, 15_000, 20);
    assertTransportStream(viewer.received());
    viewer.ws.close();
  });

  it('names the reason, and stop() ends the retries without leaving a listener behind', async () => {
    // An address this host does not have: refused at once, whatever the port.
    const elsewhere = new JsmpegServer({
      ...baseOptions(),
      host: '192.0.2.1',
      backoff: { initialMs: 5, maxMs: 5 },
    });
    onCleanup(() => elsewhere.stop());
    assert.deepEqual(await elsewhere.start(), {
      listening: false,
      reason: 'address 192.0.2.1 is not on this host',
    });
    await elsewhere.stop();

    // Real sleeps of a second: stop() must not wait for the next attempt.
    const taken = await occupyPort();
    const failures: string[] = [];
    const server = new JsmpegServer({
      ...baseOptions(),
      port: taken.port,
      onListenFailed: (code) => failures.push(code),
    });
    onCleanup(() => server.stop());
    assert.equal((await server.start()).listening, false);
    const stopping = Date.now();
    await server.stop();
    assert.ok(Date.now() - stopping < 800, `stop() took ${Date.now() - stopping} ms`);
    await taken.free();
    await sleep(1300);
    assert.deepEqual(failures, ['EADDRINUSE'], 'no attempt after stop()');
    const connected = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${taken.port}/live/jsmpeg/cam-1`);
      ws.once('error', () => resolve(false));
      ws.once('unexpected-response', () => resolve(true));
      ws.once('open', () => resolve(true));
    });
    assert.equal(connected, false, 'nothing listens on the port');
    await assert.rejects(server.open('cam-1'), { code: 'LIVE_UNAVAILABLE' });
  });
});

describe('jsmpeg live server with a certificate', { timeout: 60_000 }, () => {
  /** The serial of the certificate the server presents now, verified against `ca`. */
  const servedSerial = (port: number, ca: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.once('error', reject);
    });

  it('serves wss:// only, and a renewed certificate to new connections', async (t) => {
    const dir = await tempDir('jsmpeg-tls-');
    const ca = await ensureLocalCa(join(dir, 'ca'));
    const caPem = await readFile(ca.certFile);
    const first = await ensureCertificate(ca, dir, 'live', { names: ['localhost'] });
    const { server, port } = await startServer(t, {
      tls: { certFile: first.certFile, keyFile: first.keyFile },
      tlsReloadMs: 50,
    });
    const { path, ticket } = await server.open('cam-1');
    const ws = new WebSocket(`wss://localhost:${port}${path}?ticket=${ticket}`, { ca: caPem });
    onCleanup(() => ws.terminate());
    const data = await new Promise<Buffer>((resolve, reject) => {
      ws.once('message', (chunk: Buffer) => resolve(chunk));
      ws.once('error', reject);
    });
    assert.equal(data[0], 0x47, 'MPEG-TS over wss://');
    ws.close();
    // A plain upgrade is no TLS handshake: the connection is dropped unanswered.
    const plain = await server.open('cam-1');
    await assert.rejects(connect(port, plain.path, plain.ticket), /socket hang up|ECONNRESET/);

    const before = await servedSerial(port, caPem);
    const renewed = await ensureCertificate(ca, dir, 'live', { names: ['localhost', '127.0.0.1'] });
    assert.equal(renewed.issued, true);
    await waitFor('the renewed certificate served', async () => (await servedSerial(port, caPem)) !== before);
  });
});
