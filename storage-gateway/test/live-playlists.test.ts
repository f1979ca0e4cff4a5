/**
 * Live playlists: the newest segments of a camera's current recording run, uploaded like an
 * agent does (now-ish start times), checked for shape and numbering, then played live by
 * hls.js in headless Chromium while segments keep arriving.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { grantedPath } from '@cctv/protocol';
import { launchChromium } from '../../test/support/browser.ts';
import { startTestDatabase, tempDir } from '../../test/support/index.ts';
import { SegmentRepository } from '../src/index/segment-repository.ts';
import { dashboardHlsPage, startDashboardOrigin } from './dashboard-page.ts';
import { granted, grantFor, mediaHeaders, put, startGateway } from './gateway-harness.ts';
import { makeRecording } from './rendition-fixture.ts';

const db = await startTestDatabase();
// The player page's origin: the only one whose pages the gateway lets read footage.
const dashboard = await startDashboardOrigin();
const gw = await startGateway(db, { GATEWAY_CORS_ORIGINS: dashboard });
const repo = new SegmentRepository(gw.prisma);

/** An agent run id for a run started at `at`: `20261123T101500123Z`. */
const runIdOf = (at: Date) => at.toISOString().replace(/[-:.]/g, '');
const segName = (runId: string, counter: number) => `${runId}-${String(counter).padStart(6, '0')}.m4s`;

async function putInit(camera: string, name: string, data: Buffer = randomBytes(64)) {
  const res = await put(gw.url, camera, name, data);
  assert.ok(res.status < 300, JSON.stringify(res.body));
}
async function putMedia(camera: string, name: string, init: string, start: Date, ms: number, data?: Buffer) {
  const res = await put(gw.url, camera, name, data ?? randomBytes(256), mediaHeaders(start, ms, init));
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

interface Parsed {
  status: number;
  text: string;
  headers: Headers;
  tags: Map<string, string>;
  uris: string[];
  dates: string[];
}
/** GETs a live playlist path (`/v1/live/…`) under an all-time live grant for its camera. */
async function getPlaylist(path: string): Promise<Parsed> {
  const res = await fetch(await granted(gw.url, path));
  const text = await res.text();
  const tags = new Map<string, string>();
  const uris: string[] = [];
  const dates: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) dates.push(line.slice(25));
    else if (line.startsWith('#')) {
      const i = line.indexOf(':');
      tags.set(i < 0 ? line : line.slice(0, i), i < 0 ? '' : line.slice(i + 1));
    } else if (line) uris.push(line);
  }
  return { status: res.status, text, headers: res.headers, tags, uris, dates };
}
/** Sequence number of each listed segment, by its name. */
const numbered = (p: Parsed) => {
  const first = Number(p.tags.get('#EXT-X-MEDIA-SEQUENCE'));
  return new Map(p.uris.map((u, i) => [u.slice(u.lastIndexOf('/') + 1).replace(/\.ts$/, '.m4s'), first + i]));
};

describe('live playlists', () => {
  const camera = 'cam-live';
  const t0 = Date.now() - 20_000;
  const runA = runIdOf(new Date(t0));
  const initA = `init-${runA}.mp4`;

  it('lists the newest 3 segments, live, with stable growing numbers', async () => {
    await putInit(camera, initA);
    const durations = [2000, 2000, 2500, 1800];
    let t = t0;
    for (const [i, ms] of durations.entries()) {
      await putMedia(camera, segName(runA, i), initA, new Date(t), ms);
      t += ms;
    }
    const p = await getPlaylist(`/v1/live/${camera}.m3u8`);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.headers.get('cache-control'), 'private, no-cache');
    assert.match(p.headers.get('content-type') ?? '', /mpegurl/);
    assert.ok(!p.text.includes('#EXT-X-ENDLIST') && !p.text.includes('#EXT-X-PLAYLIST-TYPE'), p.text);
    assert.deepEqual(
      p.uris,
      [1, 2, 3].map((i) => `../segments/${camera}/${segName(runA, i)}`),
    );
    assert.equal(p.tags.get('#EXT-X-TARGETDURATION'), '3'); // ceil(2.5)
    assert.equal(p.tags.get('#EXT-X-MAP'), `URI="../segments/${camera}/${initA}"`);
    assert.equal(p.dates.length, 3);
    assert.equal(p.dates[0], new Date(t0 + 2000).toISOString());
    const before = numbered(p);
    assert.equal(before.get(segName(runA, 1)), t0 * 100 + 1);

    // Two more segments: the window slides, numbers stay.
    for (const i of [4, 5]) {
      await putMedia(camera, segName(runA, i), initA, new Date(t), 2000);
      t += 2000;
    }
    const q = await getPlaylist(`/v1/live/${camera}.m3u8`);
    assert.equal(q.uris.length, 3);
    const afterwards = numbered(q);
    assert.equal(afterwards.get(segName(runA, 3)), before.get(segName(runA, 3)));
    assert.equal(afterwards.get(segName(runA, 5)), (before.get(segName(runA, 3)) ?? 0) + 2);
    assert.equal(q.tags.get('#EXT-X-TARGETDURATION'), '2');

    // The H.264 playlist: same segments and numbers, rendition URIs, no map.
    const h = await getPlaylist(`/v1/live/${camera}/h264.m3u8`);
    assert.equal(h.status, 200, h.text);
    assert.equal(h.tags.get('#EXT-X-VERSION'), '3');
    assert.ok(!h.tags.has('#EXT-X-MAP'));
    assert.deepEqual(
      h.uris,
      [3, 4, 5].map((i) => `../../renditions/h264/${camera}/${segName(runA, i).slice(0, -4)}.ts`),
    );
    assert.deepEqual([...numbered(h)], [...afterwards]);
  });

  it('skips missing rows and resets to a new run with higher numbers', async () => {
    const last = await getPlaylist(`/v1/live/${camera}.m3u8`);
    const lastNumbers = [...numbered(last).values()];
    // Let the NAS mover finish first: a move that completes sets its row to `nas`, which would
    // overwrite the `missing` set below.
    const deadline = Date.now() + 10_000;
    while ((await repo.namesAt(camera, 'buffer')).length > 0) {
      assert.ok(Date.now() < deadline, 'segments still in the buffer after 10 s');
      await new Promise((r) => setTimeout(r, 25));
    }
    // A missing row in the window: only the segments after it are listed (numbers consecutive).
    assert.ok(await repo.setLocation(camera, segName(runA, 4), 'missing'));
    const m = await getPlaylist(`/v1/live/${camera}.m3u8`);
    assert.deepEqual(m.uris, [`../segments/${camera}/${segName(runA, 5)}`]);
    assert.equal(numbered(m).get(segName(runA, 5)), lastNumbers.at(-1));
    // The two newest rows missing: the newest playable ones before them.
    assert.ok(await repo.setLocation(camera, segName(runA, 5), 'missing'));
    const n = await getPlaylist(`/v1/live/${camera}.m3u8`);
    assert.deepEqual(
      n.uris,
      [1, 2, 3].map((i) => `../segments/${camera}/${segName(runA, i)}`),
    );
    await repo.setLocation(camera, segName(runA, 4), 'nas');
    await repo.setLocation(camera, segName(runA, 5), 'nas');

    // ffmpeg restarted: new run id, new init; older run left out.
    const tB = Date.now() - 3000;
    const runB = runIdOf(new Date(tB));
    const initB = `init-${runB}.mp4`;
    await putInit(camera, initB);
    await putMedia(camera, segName(runB, 0), initB, new Date(tB), 2000);
    const r = await getPlaylist(`/v1/live/${camera}.m3u8`);
    assert.deepEqual(r.uris, [`../segments/${camera}/${segName(runB, 0)}`]);
    assert.equal(r.tags.get('#EXT-X-MAP'), `URI="../segments/${camera}/${initB}"`);
    assert.ok(!r.text.includes('#EXT-X-DISCONTINUITY\n'));
    assert.ok(Number(r.tags.get('#EXT-X-MEDIA-SEQUENCE')) > Math.max(...lastNumbers));
    assert.ok(
      Number(r.tags.get('#EXT-X-DISCONTINUITY-SEQUENCE')) >
        Number(last.tags.get('#EXT-X-DISCONTINUITY-SEQUENCE')),
    );
  });

  it('numbers segments without agent names by their position in the run', async () => {
    const cam = 'cam-names';
    const start = Date.now() - 10_000;
    await putInit(cam, 'init-x.mp4');
    for (const i of [0, 1, 2, 3])
      await putMedia(cam, `seg${i}.m4s`, 'init-x.mp4', new Date(start + i * 2000), 2000);
    const p = await getPlaylist(`/v1/live/${cam}.m3u8`);
    assert.deepEqual(
      p.uris,
      [1, 2, 3].map((i) => `../segments/${cam}/seg${i}.m4s`),
    );
    assert.equal(p.tags.get('#EXT-X-MEDIA-SEQUENCE'), String(start * 100 + 1));
    await putMedia(cam, 'seg4.m4s', 'init-x.mp4', new Date(start + 8000), 2000);
    const q = await getPlaylist(`/v1/live/${cam}.m3u8`);
    assert.equal(q.tags.get('#EXT-X-MEDIA-SEQUENCE'), String(start * 100 + 2));
  });

  it('answers 404 not_live for a stale camera and 400 for a bad id', async () => {
    const cam = 'cam-stale';
    const run = runIdOf(new Date(Date.now() - 60_000));
    await putInit(cam, `init-${run}.mp4`);
    await putMedia(cam, segName(run, 0), `init-${run}.mp4`, new Date(Date.now() - 60_000), 2000);
    for (const path of [`/v1/live/${cam}.m3u8`, `/v1/live/${cam}/h264.m3u8`, '/v1/live/cam-never.m3u8']) {
      const res = await fetch(await granted(gw.url, path));
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_live');
      // Without a grant the answer says nothing about the camera.
      const plain = await fetch(`${gw.url}${path}`);
      assert.equal(plain.status, 401, path);
      assert.equal(((await plain.json()) as { error: { code: string } }).error.code, 'grant_required');
    }
    // A bad id is refused as such under any valid live grant, before cameras are compared.
    const token = await grantFor(gw.url, { camera: cam, scope: 'live' });
    for (const path of ['/v1/live/bad%20cam.m3u8', '/v1/live/bad%20cam/h264.m3u8']) {
      const res = await fetch(`${gw.url}${grantedPath(token, path)}`);
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'bad_camera');
    }
  });
});

describe('live H.264 in Chromium', () => {
  it('plays along as segments arrive, at most 3 segments behind', { timeout: 120_000 }, async () => {
    const camera = 'cam-live-play';
    const media = await tempDir('cctv-live-media-');
    const rec = await makeRecording(media, 'live', { seconds: 20, segmentSeconds: 2, fps: 10 });
    assert.ok(rec.segments.length >= 9, `${rec.segments.length} segments`);
    const t0 = Date.now() - 3 * 2000;
    const runId = runIdOf(new Date(t0));
    const init = `init-${runId}.mp4`;
    await putInit(camera, init, rec.init.data);
    let next = 0;
    let startMs = t0;
    let newestEndMs = 0;
    const uploadNext = async () => {
      const seg = rec.segments[next];
      if (!seg) return false;
      await putMedia(camera, segName(runId, next), init, new Date(startMs), seg.durationMs, seg.data);
      startMs += seg.durationMs;
      newestEndMs = startMs;
      next++;
      return true;
    };
    for (let i = 0; i < 3; i++) await uploadNext(); // the camera was already recording

    const browser = await launchChromium();
    after(() => browser.close());
    // On the dashboard's origin: the gateway's CORS lets only that one read footage.
    const { page, pageErrors } = await dashboardHlsPage(browser, dashboard);
    await page.addScriptTag({
      content: `
        const hlsErrors = [];
        let hls;
        function play(src) {
          const video = document.getElementById('v');
          hls = new Hls();
          hls.on(Hls.Events.ERROR, (_e, d) => hlsErrors.push(d.type + '/' + d.details + (d.fatal ? ' (fatal)' : '')));
          hls.loadSource(src);
          hls.attachMedia(video);
          video.addEventListener('loadedmetadata', () => video.play().catch((e) => hlsErrors.push('play(): ' + e.message)));
        }
        function state() {
          const video = document.getElementById('v');
          const d = hls && hls.playingDate;
          return { currentTime: video.currentTime, playingMs: d ? d.getTime() : null,
            latency: hls ? hls.latency : null, error: video.error ? video.error.message : null, hlsErrors };
        }`,
    });
    await page.evaluate(`play(${JSON.stringify(await granted(gw.url, `/v1/live/${camera}/h264.m3u8`))})`);

    // Keep uploading one segment every 2 s, like a live camera; sample the player meanwhile.
    type State = {
      currentTime: number;
      playingMs: number | null;
      latency: number | null;
      hlsErrors: string[];
    };
    const samples: { state: State; behindMs: number }[] = [];
    let firstPlaying: State | undefined;
    let latest: State | undefined;
    const started = Date.now();
    while (Date.now() - started < 30_000) {
      const uploadAt = t0 + (next + 1) * 2000; // segment `next` is finished 2 s after its start
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(500, uploadAt - Date.now()))));
      if (Date.now() >= uploadAt && !(await uploadNext()) && Date.now() - started > 25_000) break;
      const state = (await page.evaluate('state()')) as State;
      latest = state;
      if (state.playingMs !== null && state.currentTime > 0) {
        firstPlaying ??= state;
        samples.push({ state, behindMs: newestEndMs - state.playingMs });
      }
      if (firstPlaying && state.currentTime - firstPlaying.currentTime >= 8) break;
    }
    const last = samples.at(-1);
    const summary = JSON.stringify({ first: firstPlaying, last, latest, uploaded: next, pageErrors });
    assert.ok(firstPlaying && last, `never played: ${summary}`);
    assert.ok(last.state.currentTime - firstPlaying.currentTime >= 6, `did not advance 6 s: ${summary}`);
    const worst = Math.max(...samples.map((s) => s.behindMs));
    // The playlist keeps the player within 3 segments of 2 s; allow two target durations more
    // for the newest segment being transcoded and loaded, and for the sampling itself.
    assert.ok(worst <= 3 * 2000 + 2 * 2000, `fell ${worst} ms behind the newest segment: ${summary}`);
    console.log(
      `live: played ${(last.state.currentTime - firstPlaying.currentTime).toFixed(1)} s, ` +
        `at most ${worst} ms behind the newest segment's end (hls.js latency ${last.state.latency?.toFixed(2)} s), ` +
        `${samples.length} samples, in ${Date.now() - started} ms`,
    );
  });
});
