/**
 * Low-latency live: a node's fMP4 feed of its camera (real ffmpeg, real-time pace) cut into
 * LL-HLS parts by a real gateway, served under live grants with blocking reloads, refused for
 * a stranger, ended when nobody watches; then played by hls.js in low-latency mode in Chromium.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:https';
import { after, describe, it } from 'node:test';
import { grantedPath } from '@cctv/protocol';
import { LIVE_PART_TARGET_HEADER } from '@cctv/protocol/gateway-routes';
import { launchChromium } from '../../test/support/browser.ts';
import { startTestDatabase } from '../../test/support/index.ts';
import { BoxSplitter, parseMoof, parseMoov } from '../src/live/fmp4.ts';
import { dashboardHlsPage, startDashboardOrigin } from './dashboard-page.ts';
import { authHeaders, grantFor, metric, registerCamera, startGateway } from './gateway-harness.ts';

const db = await startTestDatabase();
const dashboard = await startDashboardOrigin();
const gw = await startGateway(db, { GATEWAY_CORS_ORIGINS: dashboard, GATEWAY_LIVE_FEED_IDLE_S: '3' });

/** fMP4 as an agent sends it: one keyframe a second, a part every 240 ms, at real-time pace. */
function liveSource(seconds = 60): ChildProcess {
  return spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi'],
      ...['-i', `testsrc2=size=320x180:rate=25:duration=${seconds}`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-bf', '0'],
      ...['-pix_fmt', 'yuv420p', '-f', 'mp4'],
      ...['-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '240000'],
      ...['-flush_packets', '1', 'pipe:1'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}

interface Feed {
  sent: Buffer[];
  answer: Promise<{ status: number; body: string }>;
  stop(): void;
}

/** Streams `source`'s stdout to `PUT /v1/live-parts/<camera>` as the node `node`. */
async function sendFeed(
  camera: string,
  opts: { node?: string; headers?: Record<string, string>; source?: ChildProcess } = {},
): Promise<Feed> {
  const node = opts.node ?? 'node-1';
  await registerCamera(gw.url, node, camera);
  const src = opts.source ?? liveSource();
  const sent: Buffer[] = [];
  const { hostname, port } = new URL(gw.url);
  const req = request({
    hostname,
    port,
    method: 'PUT',
    path: `/v1/live-parts/${camera}`,
    headers: {
      'content-type': 'video/mp4',
      [LIVE_PART_TARGET_HEADER]: '300',
      ...(await authHeaders(gw.url, node)),
      ...opts.headers,
    },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      src.kill('SIGKILL');
    });
    req.on('error', (err) => reject(err));
  });
  answer.catch(() => {});
  src.stdout?.on('data', (chunk: Buffer) => {
    sent.push(chunk);
    req.write(chunk);
  });
  src.on('exit', () => req.end());
  const stop = () => {
    src.kill('SIGKILL');
    req.destroy();
  };
  after(stop);
  return { sent, answer, stop };
}

const liveUrl = async (camera: string, path = `/v1/live/${camera}/ll.m3u8`, scope: 'live' | 'vod' = 'live') =>
  `${gw.url}${grantedPath(await grantFor(gw.url, { camera, scope }), path)}`;

interface Playlist {
  status: number;
  text: string;
  parts: { uri: string; duration: number; independent: boolean }[];
  segments: string[];
  msn: number;
  hint: string | null;
}
async function playlist(url: string): Promise<Playlist> {
  const res = await fetch(url);
  const text = await res.text();
  const lines = text.split('\n');
  const parts = lines
    .filter((l) => l.startsWith('#EXT-X-PART:'))
    .map((l) => ({
      uri: /URI="([^"]+)"/.exec(l)?.[1] ?? '',
      duration: Number(/DURATION=([\d.]+)/.exec(l)?.[1]),
      independent: l.includes('INDEPENDENT=YES'),
    }));
  return {
    status: res.status,
    text,
    parts,
    segments: lines.filter((l) => l && !l.startsWith('#')),
    msn: Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]),
    hint: /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)?.[1] ?? null,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fragmented MP4 parsing', () => {
  it('splits a feed arriving in any chunking into the same boxes, with part durations and keyframes', async () => {
    const src = liveSource(3);
    const chunks: Buffer[] = [];
    src.stdout?.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => src.on('exit', r));
    const all = Buffer.concat(chunks);
    const whole = new BoxSplitter(1 << 24).push(all);
    const bytewise = new BoxSplitter(1 << 24);
    const small: string[] = [];
    for (let i = 0; i < all.length; i += 7)
      for (const b of bytewise.push(all.subarray(i, i + 7))) small.push(b.type);
    assert.deepEqual(
      small,
      whole.map((b) => b.type),
    );
    assert.equal(bytewise.buffered, 0);
    const moov = whole.find((b) => b.type === 'moov');
    assert.ok(moov);
    const info = parseMoov(moov);
    const frags = whole.filter((b) => b.type === 'moof').map((b) => parseMoof(b, info));
    const total = frags.reduce((n, f) => n + f.duration, 0);
    assert.ok(Math.abs(total - 3) < 0.05, `3 s in fragments, got ${total}`);
    assert.equal(
      frags.reduce((n, f) => n + f.samples, 0),
      75,
    );
    // A keyframe every 25 frames starts a fragment; the ones between are at most 240 ms.
    assert.deepEqual(
      frags.filter((f) => f.independent).length,
      3,
      JSON.stringify(frags.map((f) => [f.duration, f.independent])),
    );
    for (const f of frags) assert.ok(f.duration <= 0.241, `part of ${f.duration} s`);
    assert.throws(() => new BoxSplitter(1000).push(all), /over 1000/);
  });
});

describe('LL-HLS from a node feed', () => {
  const camera = 'cam-ll';

  it('cuts the feed into parts and segments, with blocking reloads and hinted parts', async () => {
    const feed = await sendFeed(camera);
    const url = await liveUrl(camera);
    // The first request waits for the feed's first keyframe.
    let p = await playlist(url);
    assert.equal(p.status, 200, p.text);
    assert.match(p.text, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.900/);
    assert.match(p.text, /#EXT-X-PART-INF:PART-TARGET=0\.300/);
    assert.match(p.text, /#EXT-X-MAP:URI="ll\/[0-9a-z]+\/init\.mp4"/);
    assert.ok(p.parts[0]?.independent, p.text);
    assert.ok(p.hint, p.text);
    await sleep(2500);
    p = await playlist(url);
    assert.ok(p.segments.length >= 1, p.text);
    // Blocking reload: ask for the part after the newest; it comes when the part does.
    const last = p.parts.at(-1)?.uri ?? '';
    const [msn, part] = (/\/(\d+)\.(\d+)\.m4s$/.exec(last) ?? []).slice(1).map(Number) as [number, number];
    const asked = Date.now();
    const next = await playlist(`${url}?_HLS_msn=${msn}&_HLS_part=${part + 1}`);
    const heldMs = Date.now() - asked;
    assert.equal(next.status, 200);
    assert.ok(heldMs < 1500, `held ${heldMs} ms for the next part`);
    const newer = next.parts.map((x) => x.uri).filter((u) => !p.parts.some((o) => o.uri === u));
    assert.ok(newer.length >= 1, `a new part listed: ${next.text}`);
    // The hinted part is held until it is in, then served.
    const hinted = await playlist(url);
    assert.ok(hinted.hint);
    const base = url.slice(0, url.lastIndexOf('/') + 1);
    const hintRes = await fetch(base + hinted.hint);
    assert.ok([200, 404].includes(hintRes.status), `hinted part: ${hintRes.status}`);
    // A segment is its parts, byte for byte; the init is what the node sent first.
    const full = await playlist(url);
    const segUri = full.segments.at(-1) as string;
    const segMsn = Number(/\/(\d+)\.m4s$/.exec(segUri)?.[1]);
    const partUris = full.parts.map((x) => x.uri).filter((u) => u.includes(`/${segMsn}.`));
    assert.ok(partUris.length >= 2, full.text);
    const seg = Buffer.from(await (await fetch(base + segUri)).arrayBuffer());
    const joined = Buffer.concat(
      await Promise.all(partUris.map(async (u) => Buffer.from(await (await fetch(base + u)).arrayBuffer()))),
    );
    assert.ok(seg.equals(joined), 'segment = its parts');
    const initUri = /#EXT-X-MAP:URI="([^"]+)"/.exec(full.text)?.[1] as string;
    const init = Buffer.from(await (await fetch(base + initUri)).arrayBuffer());
    assert.ok(Buffer.concat(feed.sent).subarray(0, init.length).equals(init), 'init = ftyp+moov as sent');
    assert.ok(Buffer.concat(feed.sent).includes(seg), 'segment bytes as sent');
    // What a player may not ask for.
    assert.equal((await fetch(`${url}?_HLS_part=1`)).status, 400);
    assert.equal((await fetch(`${url}?_HLS_msn=${segMsn + 50}`)).status, 400);
    assert.equal((await fetch(`${url}?_HLS_msn=abc`)).status, 400);
    assert.equal((await fetch(`${base}ll/zzzz/init.mp4`)).status, 404);
    assert.equal((await fetch(`${base}${initUri.replace('init.mp4', '..%2Finit.mp4')}`)).status, 400);
    assert.equal((await fetch(await liveUrl(camera, `/v1/live/${camera}/ll.m3u8`, 'vod'))).status, 403);
    assert.equal((await fetch(url.replace(/\/v1\/g\/[^/]+\//, '/v1/g/bogus/'))).status, 401);
    assert.equal((await fetch((await liveUrl('cam-other')).replace('cam-other', camera))).status, 403);
    assert.ok((await metric(gw.url, 'cctv_gateway_live_parts_total')) > 10);
    assert.equal(await metric(gw.url, 'cctv_gateway_live_feeds'), 1);
    feed.stop();
  });

  it('refuses a feed without the token, for another node camera, or that is not fMP4', async () => {
    await registerCamera(gw.url, 'node-1', 'cam-owned');
    const put = async (camera: string, headers: Record<string, string>, body: Buffer) => {
      const res = await fetch(`${gw.url}/v1/live-parts/${camera}`, {
        method: 'PUT',
        headers: { 'content-type': 'video/mp4', ...headers },
        body: new Uint8Array(body),
      });
      return { status: res.status, body: (await res.json()) as { error?: { code: string }; ended?: string } };
    };
    const junk = Buffer.from('this is not an mp4 at all, just some words');
    assert.equal((await put('cam-owned', {}, junk)).body.error?.code, 'unauthorized');
    const stranger = await authHeaders(gw.url, 'node-2');
    await registerCamera(gw.url, 'node-2', 'cam-of-node-2');
    const foreign = await put('cam-owned', stranger, junk);
    assert.deepEqual([foreign.status, foreign.body.error?.code], [403, 'not_owner']);
    const own = await authHeaders(gw.url, 'node-1');
    const bad = await put('cam-owned', own, junk);
    assert.deepEqual([bad.status, bad.body.error?.code], [400, 'bad_stream']);
    assert.equal((await put('cam-owned', { ...own, 'content-type': 'text/plain' }, junk)).status, 415);
    assert.equal((await put('cam-owned', { ...own, [LIVE_PART_TARGET_HEADER]: '5' }, junk)).status, 400);
    assert.equal((await put('Bad..Cam', own, junk)).status, 400);
    assert.ok((await metric(gw.url, 'cctv_gateway_live_feed_refusals_total', 'reason="not_owner"')) >= 1);
    assert.ok((await metric(gw.url, 'cctv_gateway_live_feed_refusals_total', 'reason="bad_stream"')) >= 1);
  });

  it('ends a feed nobody reads, and a feed the same camera replaces', async () => {
    const idle = await sendFeed('cam-idle');
    const answer = await idle.answer;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).ended, 'idle');
    const first = await sendFeed('cam-twice');
    await sleep(1500);
    const second = await sendFeed('cam-twice');
    assert.equal(JSON.parse((await first.answer).body).ended, 'replaced');
    second.stop();
    assert.ok((await metric(gw.url, 'cctv_gateway_live_feed_ends_total', 'reason="idle"')) >= 1);
  });

  it('plays in hls.js low-latency mode, a second or so behind the feed', async () => {
    const camera2 = 'cam-ll-play';
    const feed = await sendFeed(camera2);
    const browser = await launchChromium();
    after(() => browser.close());
    const { page, pageErrors } = await dashboardHlsPage(browser, dashboard);
    await page.addScriptTag({
      content: `
        const hlsErrors = []; let hls; let parts = 0;
        function play(src) {
          const video = document.getElementById('v');
          hls = new Hls({ lowLatencyMode: true });
          hls.on(Hls.Events.ERROR, (_e, d) => hlsErrors.push(d.type + '/' + d.details + (d.fatal ? ' (fatal)' : '')));
          hls.on(Hls.Events.FRAG_LOADED, (_e, d) => { if (d.part) parts++; });
          hls.loadSource(src);
          hls.attachMedia(video);
          video.muted = true;
          video.addEventListener('loadedmetadata', () => video.play().catch((e) => hlsErrors.push('play(): ' + e.message)));
        }
        function state() {
          const video = document.getElementById('v');
          return { currentTime: video.currentTime, latency: hls ? hls.latency : null, parts, hlsErrors,
            error: video.error ? video.error.message : null };
        }`,
    });
    await page.evaluate(`play(${JSON.stringify(await liveUrl(camera2))})`);
    type State = { currentTime: number; latency: number | null; parts: number; hlsErrors: string[] };
    let state: State | undefined;
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      await sleep(500);
      state = (await page.evaluate('state()')) as State;
      if (state.currentTime > 5) break;
    }
    const summary = JSON.stringify({ state, pageErrors });
    assert.ok(state && state.currentTime > 5, `played 5 s: ${summary}`);
    assert.ok(state.parts >= 10, `loaded parts, not only segments: ${summary}`);
    assert.ok(state.latency !== null && state.latency < 4, `live edge: ${summary}`);
    assert.deepEqual(
      state.hlsErrors.filter((e) => e.includes('fatal')),
      [],
      summary,
    );
    feed.stop();
  });
});
