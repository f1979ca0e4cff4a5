/**
 * H.264 renditions of recorded H.265: a minute recorded like an agent does, uploaded to a
 * real gateway, checked with ffprobe (source and rendition), played by hls.js in headless
 * Chromium, plus the rendition service's cache, slots, single flight and failures.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { grantedPath } from '@cctv/protocol';
import pino from 'pino';
import { launchChromium } from '../../test/support/browser.ts';
import { startTestDatabase, tempDir } from '../../test/support/index.ts';
import { SegmentFiles } from '../src/files/segment-files.ts';
import { RenditionError } from '../src/rendition/rendition-error.ts';
import {
  type OpenedRendition,
  RenditionService,
  type RenditionServiceOptions,
  type RenditionSource,
  type RenditionState,
} from '../src/rendition/rendition-service.ts';
import { dashboardHlsPage, startDashboardOrigin } from './dashboard-page.ts';
import {
  granted,
  grantFor,
  listFiles,
  makeHls,
  metric,
  rawRequest,
  startGateway,
} from './gateway-harness.ts';
import { ffprobe, makeRecording, upload } from './rendition-fixture.ts';

const CAMERA = 'cam-h264';
const T0 = new Date('2026-11-21T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const rangeQuery = (from: Date, to: Date) => `from=${from.toISOString()}&to=${to.toISOString()}`;

// Started at file level: the helpers stop what they start when the file ends.
const db = await startTestDatabase();
const media = await tempDir('cctv-rendition-media-');
const [minute, later] = await Promise.all([
  makeRecording(media, 'r', { seconds: 60 }), // 20 segments of 3 s, 600 frames
  makeHls(media, 'later'), // 6 s at 160x90, another init
]);
// The player page's origin: the only one whose pages the gateway lets read footage.
const dashboard = await startDashboardOrigin();
const gw = await startGateway(db, { GATEWAY_CORS_ORIGINS: dashboard });
await upload(gw.url, CAMERA, minute, T0);
await upload(gw.url, CAMERA, later, at(70_000)); // a 10 s gap, then another recording

assert.ok(minute.segments.length >= 8, 'the fixture has enough segments');
const minuteQuery = rangeQuery(T0, at(60_000));
// Every read is under a grant (an all-time VOD grant for the camera, narrowed by the query).
const h265Url = await granted(gw.url, `/v1/vod/${CAMERA}.m3u8?${minuteQuery}`);
const h264Url = await granted(gw.url, `/v1/vod/${CAMERA}/h264.m3u8?${minuteQuery}`);
const renditionPath = (name: string, camera = CAMERA) =>
  `/v1/renditions/h264/${camera}/${name.replace(/\.m4s$/, '')}.ts`;
const renditionUrl = (name: string, camera = CAMERA, url = gw.url) =>
  granted(url, renditionPath(name, camera));
const renditions = (result: string) => metric(gw.url, 'cctv_gateway_renditions_total', `result="${result}"`);
const FRAMES = 600;

/** The page's player (plain browser JavaScript): hls.js on a muted video, errors collected. */
const PLAYER = `
  const hlsErrors = [];
  function play(src) {
    const video = document.getElementById('v');
    if (!Hls.isSupported()) hlsErrors.push('hls.js: MediaSource is not supported');
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_event, data) =>
      hlsErrors.push(data.type + '/' + data.details + (data.fatal ? ' (fatal)' : '')));
    hls.loadSource(src);
    hls.attachMedia(video);
    // Four times as fast keeps the test short (Chromium plays muted video up to 16x).
    video.playbackRate = 4;
    video.addEventListener('loadedmetadata', () => {
      video.playbackRate = 4;
      video.play().catch((err) => hlsErrors.push('play(): ' + err.message));
    });
  }
  function playerState() {
    const video = document.getElementById('v');
    return { currentTime: video.currentTime, readyState: video.readyState,
      error: video.error ? video.error.message : null, hlsErrors };
  }
`;

interface Probe {
  format: { duration: string };
  streams: { codec_name: string; nb_read_frames?: string }[];
  packets?: { pts_time?: string }[];
}

describe('H.265 VOD playlist', () => {
  it('is H.265 of about 60 s that ffprobe decodes frame by frame without an error', async () => {
    const { json, stderr } = await ffprobe(h265Url, [
      '-count_frames',
      '-show_entries',
      'format=duration:stream=codec_name,nb_read_frames',
    ]);
    const probe = json as unknown as Probe;
    assert.equal(probe.streams[0]?.codec_name, 'hevc');
    assert.ok(Math.abs(Number(probe.format.duration) - 60) < 1, `duration ${probe.format.duration}`);
    assert.equal(Number(probe.streams[0]?.nb_read_frames), FRAMES);
    assert.equal(stderr.trim(), '', 'decoding reported errors');
  });
});

describe('H.264 rendition playlist', () => {
  it('lists the same segments as MPEG-TS renditions, without EXT-X-MAP', async () => {
    const res = await fetch(h264Url, { headers: { origin: dashboard } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('access-control-allow-origin'), dashboard);
    const lines = (await res.text()).trim().split('\n');
    assert.equal(lines[0], '#EXTM3U');
    assert.ok(lines.includes('#EXT-X-VERSION:3'));
    const target = Math.ceil(Math.max(...minute.segments.map((x) => x.durationMs)) / 1000);
    assert.ok(lines.includes(`#EXT-X-TARGETDURATION:${target}`));
    assert.equal(lines.at(-1), '#EXT-X-ENDLIST');
    assert.equal(lines.filter((l) => l.startsWith('#EXT-X-MAP')).length, 0);
    assert.equal(lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length, 0);
    const uris = lines.filter((l) => !l.startsWith('#'));
    assert.deepEqual(
      uris,
      minute.segments.map((s) => `../../renditions/h264/${CAMERA}/${s.name.replace('.m4s', '')}.ts`),
    );
    // Relative URIs resolve against the playlist URL, grant included, to renditions the
    // gateway serves.
    const firstUrl = new URL(uris[0] ?? '', h264Url);
    assert.match(firstUrl.pathname, new RegExp(`^/v1/g/[^/]+/renditions/h264/${CAMERA}/`));
    const first = await fetch(firstUrl, { headers: { origin: dashboard } });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'video/mp2t');
    assert.equal(first.headers.get('access-control-allow-origin'), dashboard);
    assert.equal((await first.arrayBuffer()).byteLength, Number(first.headers.get('content-length')));
  });

  it('keeps the discontinuity rules of the H.265 playlist', async () => {
    const both = rangeQuery(T0, at(120_000));
    const text = await (await fetch(await granted(gw.url, `/v1/vod/${CAMERA}/h264.m3u8?${both}`))).text();
    const lines = text.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('#EXT-X-MAP')).length, 0);
    assert.equal(lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1);
    const firstLater = lines.indexOf(
      `../../renditions/h264/${CAMERA}/${later.segments[0]?.name.replace('.m4s', '')}.ts`,
    );
    assert.deepEqual(lines.slice(firstLater - 3, firstLater - 1), [
      '#EXT-X-DISCONTINUITY',
      `#EXT-X-PROGRAM-DATE-TIME:${at(70_000).toISOString()}`,
    ]);
    // The same rule as the source playlist: a discontinuity wherever it has one.
    const source = await (await fetch(await granted(gw.url, `/v1/vod/${CAMERA}.m3u8?${both}`))).text();
    assert.equal(source.split('\n').filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1);
  });

  it('refuses bad ranges and cameras like the VOD route, 404 for an empty range', async () => {
    // (No range at all is the grant's own range, not a bad one.)
    const cases = [
      `from=${T0.toISOString()}`,
      `to=${T0.toISOString()}`,
      `from=yesterday&to=${T0.toISOString()}`,
      rangeQuery(T0, T0),
      rangeQuery(at(1000), T0),
      rangeQuery(T0, at(25 * 60 * 60 * 1000)),
    ];
    for (const query of cases) {
      const res = await fetch(await granted(gw.url, `/v1/vod/${CAMERA}/h264.m3u8?${query}`));
      assert.equal(res.status, 400, query);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'bad_range', query);
    }
    const empty = await fetch(
      await granted(gw.url, `/v1/vod/${CAMERA}/h264.m3u8?${rangeQuery(at(-7200_000), at(-3600_000))}`),
    );
    assert.equal(empty.status, 404);
    assert.equal(((await empty.json()) as { error: { code: string } }).error.code, 'no_segments');
    // A bad camera id is refused as such under a valid grant, before cameras are compared.
    const token = await grantFor(gw.url, { camera: CAMERA, scope: 'vod' });
    const bad = await fetch(`${gw.url}${grantedPath(token, '/v1/vod/Bad_Cam/h264.m3u8')}?${minuteQuery}`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'bad_camera');
  });

  it('is H.264 of about 60 s with every frame and one continuous timeline', async () => {
    const started = Date.now();
    const { json, stderr } = await ffprobe(h264Url, [
      '-count_frames',
      '-show_entries',
      'format=duration:stream=codec_name,nb_read_frames:packet=pts_time',
    ]);
    const probe = json as unknown as Probe;
    assert.equal(probe.streams[0]?.codec_name, 'h264');
    assert.ok(Math.abs(Number(probe.format.duration) - 60) < 1, `duration ${probe.format.duration}`);
    assert.equal(Number(probe.streams[0]?.nb_read_frames), FRAMES);
    assert.equal(stderr.trim(), '', 'decoding reported errors');
    // -copyts: segment after segment, timestamps go on 0.1 s at a time, with no gap or overlap.
    const pts = (probe.packets ?? []).map((p) => Number(p.pts_time));
    for (let i = 1; i < pts.length; i++) {
      const step = (pts[i] ?? 0) - (pts[i - 1] ?? 0);
      assert.ok(Math.abs(step - 0.1) < 0.01, `step ${step.toFixed(3)} s at ${pts[i - 1]} s`);
    }
    assert.equal(await renditions('transcoded'), minute.segments.length);
    console.log(
      `ffprobe transcoded and read ${minute.segments.length} renditions in ${Date.now() - started} ms`,
    );
  });
});

describe('H.264 rendition in Chromium', () => {
  it('plays the whole minute with hls.js', { timeout: 120_000 }, async () => {
    const browser = await launchChromium();
    after(() => browser.close());
    // On the dashboard's origin: the gateway's CORS lets only that one read footage.
    const { page, pageErrors } = await dashboardHlsPage(browser, dashboard);
    await page.addScriptTag({ content: PLAYER });
    const started = Date.now();
    await page.evaluate(`play(${JSON.stringify(h264Url)})`);
    try {
      await page.waitForFunction('document.getElementById("v").currentTime >= 50', null, {
        timeout: 90_000,
        polling: 250,
      });
    } catch {
      const state = await page.evaluate('playerState()');
      assert.fail(`playback did not reach 50 s: ${JSON.stringify({ state, pageErrors })}`);
    }
    console.log(`Chromium reached 50 s of the rendition in ${Date.now() - started} ms`);
  });
});

describe('rendition segments over HTTP', () => {
  it('serves a rendition the second time from the cache', async () => {
    const name = minute.segments[5]?.name ?? '';
    const url = await renditionUrl(name);
    const first = await fetch(url);
    const body = Buffer.from(await first.arrayBuffer());
    const [transcoded, hits] = [await renditions('transcoded'), await renditions('cache_hit')];
    const again = await fetch(url);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-cctv-rendition'), 'cache');
    // Only the browser holding the grant may keep it, at most as long as the grant lives.
    assert.match(again.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
    assert.ok(Buffer.from(await again.arrayBuffer()).equals(body));
    assert.equal(await renditions('transcoded'), transcoded);
    assert.equal(await renditions('cache_hit'), hits + 1);
    const part = await fetch(url, { headers: { range: 'bytes=0-187' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(body.subarray(0, 188)));
  });

  it('transcodes a segment asked for three times at once only once', async () => {
    const name = later.segments[1]?.name ?? '';
    const [transcoded, hits] = [await renditions('transcoded'), await renditions('cache_hit')];
    const url = await renditionUrl(name);
    const answers = await Promise.all([1, 2, 3].map(() => fetch(url)));
    const bodies = await Promise.all(answers.map(async (r) => Buffer.from(await r.arrayBuffer())));
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200],
    );
    assert.ok(bodies.every((b) => b.length > 0 && b.equals(bodies[0] ?? Buffer.alloc(0))));
    assert.equal(await renditions('transcoded'), transcoded + 1);
    assert.equal(await renditions('cache_hit'), hits + 2);
  });

  it('refuses bad names with 400 and unknown segments with 404, under a grant', async () => {
    const code = async (res: { status: number; body: string }) => [
      res.status,
      (JSON.parse(res.body) as { error: { code: string } }).error.code,
    ];
    const [token, other] = await Promise.all([
      grantFor(gw.url, { camera: CAMERA, scope: 'vod' }),
      grantFor(gw.url, { camera: 'cam-other', scope: 'vod' }),
    ]);
    const transcodedBefore = await renditions('transcoded');
    // Each path is sent under a valid grant for its camera, so the name checks are what refuse
    // it; without one, each is refused for that first.
    const get = async (path: string, grant = token) => {
      const plain = await rawRequest(gw.url, 'GET', path, Buffer.alloc(0));
      assert.deepEqual(await code(plain), [401, 'grant_required'], `${path} without a grant`);
      return rawRequest(gw.url, 'GET', grantedPath(grant, path), Buffer.alloc(0));
    };
    const base = `/v1/renditions/h264/${CAMERA}`;
    for (const path of [
      `${base}/../r-000.ts`,
      `${base}/..%2Fr-000.ts`,
      `${base}/%2E%2E.ts`,
      `${base}/r-000.m4s`,
      `${base}/r-000`,
      `${base}/.ts`,
      `${base}/sub/r-000.ts`,
      `/v1/renditions/h264/${CAMERA}`,
      `/v1/renditions/vp9/${CAMERA}/r-000.ts`,
    ])
      assert.deepEqual(await code(await get(path)), [400, 'bad_name'], path);
    assert.deepEqual(await code(await get('/v1/renditions/h264/Bad_Cam/r-000.ts')), [400, 'bad_camera']);
    assert.deepEqual(await code(await get(`${base}/nope-000.ts`)), [404, 'not_found']);
    assert.deepEqual(await code(await get(`${base}/init-r.ts`)), [404, 'not_found']); // init, not media
    assert.deepEqual(await code(await get('/v1/renditions/h264/cam-other/r-000.ts', other)), [
      404,
      'not_found',
    ]);
    // A grant for another camera opens nothing, not even an answer saying whether it exists.
    assert.deepEqual(await code(await get('/v1/renditions/h264/cam-other/r-000.ts')), [403, 'wrong_camera']);
    assert.equal(await renditions('transcoded'), transcodedBefore);
  });

  it('answers 503 with Retry-After when the transcode queue is full', async () => {
    const busy = await startGateway(db, {
      GATEWAY_TRANSCODE_CONCURRENCY: '1',
      GATEWAY_TRANSCODE_QUEUE_MAX: '0',
    });
    const camera = 'cam-busy';
    await upload(busy.url, camera, { ...minute, segments: minute.segments.slice(0, 4) }, T0);
    const urls = await Promise.all(
      minute.segments.slice(0, 4).map((s) => renditionUrl(s.name, camera, busy.url)),
    );
    const answers = await Promise.all(urls.map((url) => fetch(url)));
    const refused = answers.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `statuses ${answers.map((r) => r.status)}`);
    assert.ok(answers.every((r) => r.status === 200 || r.status === 503));
    for (const res of refused) {
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'busy');
    }
    assert.equal(await metric(busy.url, 'cctv_gateway_renditions_total', 'result="busy"'), refused.length);
    await busy.stop();
  });
});

describe('rendition service', () => {
  const files = new SegmentFiles(gw.config.bufferDir, gw.config.nasDir);
  const source = (i: number): RenditionSource => ({
    cameraId: CAMERA,
    name: minute.segments[i]?.name ?? '',
    initName: minute.init.name,
  });
  const service = async (opts: Partial<RenditionServiceOptions> = {}) => {
    const svc = new RenditionService({
      dir: await tempDir('cctv-rendition-cache-'),
      files,
      maxCacheBytes: 1024 ** 3,
      concurrency: 2,
      queueMax: 32,
      timeoutMs: 30_000,
      logger: pino({ level: 'silent' }),
      ...opts,
    });
    await svc.start();
    after(() => svc.stop());
    return svc;
  };
  const served = async (opened: Promise<OpenedRendition>) => {
    const r = await opened;
    await r.handle.close();
    return r.servedFrom;
  };
  const code = (err: unknown) => (err instanceof RenditionError ? err.code : String(err));

  it('runs at most `concurrency` ffmpeg at once, the others wait in the queue', async () => {
    const states: RenditionState[] = [];
    const svc = await service({ concurrency: 1, onActivity: (s) => states.push(s) });
    const results = await Promise.all([0, 1, 2, 3].map((i) => served(svc.open(source(i)))));
    assert.deepEqual(results, ['transcode', 'transcode', 'transcode', 'transcode']);
    assert.equal(Math.max(...states.map((s) => s.running)), 1);
    assert.equal(Math.max(...states.map((s) => s.queued)), 3);
    assert.deepEqual({ running: svc.state.running, queued: svc.state.queued }, { running: 0, queued: 0 });
  });

  it('refuses with busy beyond the queue, and shares one transcode between callers', async () => {
    let busy = 0;
    let transcoded = 0;
    let hits = 0;
    const svc = await service({
      concurrency: 1,
      queueMax: 1,
      onBusy: () => busy++,
      onTranscoded: () => transcoded++,
      onCacheHit: () => hits++,
    });
    const outcomes = await Promise.allSettled([0, 0, 1, 2].map((i) => served(svc.open(source(i)))));
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    // 0 runs (its twin joins it), 1 waits, 2 finds the queue full.
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : code(o.reason))),
      ['transcode', 'cache', 'transcode', 'busy'],
    );
    assert.ok(errors[0] instanceof RenditionError && (errors[0].retryAfterS ?? 0) >= 1);
    assert.deepEqual({ busy, transcoded, hits }, { busy: 1, transcoded: 2, hits: 1 });
  });

  it('keeps the cache under its byte bound, evicting the least recently used', async () => {
    const probe = await service();
    const sizes: number[] = [];
    for (const i of [0, 1, 2, 3]) {
      const r = await probe.open(source(i));
      sizes.push(r.size);
      await r.handle.close();
    }
    const [s0 = 0, s1 = 0, s2 = 0] = sizes;
    const bound = s0 + s1 + s2;
    const dir = await tempDir('cctv-rendition-lru-');
    const svc = await service({ dir, maxCacheBytes: bound });
    const bytesOnDisk = async () => {
      let total = 0;
      for (const f of await listFiles(dir)) total += (await stat(join(dir, f))).size;
      return total;
    };
    for (const i of [0, 1, 2]) assert.equal(await served(svc.open(source(i))), 'transcode');
    assert.equal(await served(svc.open(source(0))), 'cache'); // 0 is now the most recent
    assert.equal(await served(svc.open(source(3))), 'transcode'); // over the bound: 1 goes first
    assert.ok(svc.state.cache.bytes <= bound, `${svc.state.cache.bytes} > ${bound}`);
    assert.equal(await bytesOnDisk(), svc.state.cache.bytes);
    assert.ok(!(await listFiles(dir)).includes(`h264/${CAMERA}/r-001.ts`));
    assert.equal(await served(svc.open(source(0))), 'cache');
    assert.equal(await served(svc.open(source(1))), 'transcode');
    assert.ok(svc.state.cache.bytes <= bound, `${svc.state.cache.bytes} > ${bound}`);
    assert.equal(await bytesOnDisk(), svc.state.cache.bytes);
  });

  it('keeps what is cached over a restart and clears temp files a crash left', async () => {
    const dir = await tempDir('cctv-rendition-restart-');
    const first = await service({ dir });
    for (const i of [4, 5]) await served(first.open(source(i)));
    await first.stop();
    await writeFile(join(dir, '.tmp', 'left-by-a-crash.ts'), 'half a file');
    const second = await service({ dir });
    assert.deepEqual(await readdir(join(dir, '.tmp')), []);
    assert.equal(second.state.cache.files, 2);
    assert.equal(await served(second.open(source(5))), 'cache');
    const onDisk = await listFiles(dir);
    assert.deepEqual(onDisk, [`h264/${CAMERA}/r-004.ts`, `h264/${CAMERA}/r-005.ts`]);
    let total = 0;
    for (const f of onDisk) total += (await stat(join(dir, f))).size;
    assert.equal(second.state.cache.bytes, total);
  });

  it('kills ffmpeg at the timeout and reports typed errors, leaving no file behind', async () => {
    const failed: string[] = [];
    const dirs = [await tempDir('cctv-rendition-timeout-'), await tempDir('cctv-rendition-failed-')];
    const svc = await service({ dir: dirs[0], timeoutMs: 1, onFailed: (c) => failed.push(c) });
    const startedAt = Date.now();
    await assert.rejects(svc.open(source(6)), (err) => code(err) === 'transcode_timeout');
    assert.ok(Date.now() - startedAt < 5000, 'a killed ffmpeg ends the request promptly');

    const broken = await tempDir('cctv-rendition-broken-');
    await mkdir(join(broken, 'buffer', CAMERA), { recursive: true });
    await writeFile(join(broken, 'buffer', CAMERA, 'init-x.mp4'), 'not an mp4 at all');
    await writeFile(join(broken, 'buffer', CAMERA, 'x-000.m4s'), 'nor a segment');
    const garbage = await service({
      dir: dirs[1],
      files: new SegmentFiles(join(broken, 'buffer'), join(broken, 'nas')),
      onFailed: (c) => failed.push(c),
    });
    const bad = { cameraId: CAMERA, name: 'x-000.m4s', initName: 'init-x.mp4' };
    await assert.rejects(garbage.open(bad), (err) => {
      assert.ok(err instanceof RenditionError);
      assert.equal(err.code, 'transcode_failed');
      assert.equal(err.statusCode, 500);
      assert.match(err.message, /ffmpeg exited with/);
      return true;
    });
    await assert.rejects(
      garbage.open({ ...bad, name: 'x-001.m4s' }),
      (err) => code(err) === 'source_missing',
    );
    assert.deepEqual(failed, ['transcode_timeout', 'transcode_failed', 'source_missing']);
    for (const s of [svc, garbage]) assert.equal(s.state.cache.files, 0);
    for (const dir of dirs) assert.deepEqual(await listFiles(dir), []);
  });
});
