import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { grantedPath, SEGMENT_HEADERS } from '@cctv/protocol';
import { enrolTestNodeFully, registerTestCameras } from '../../test/support/enrol.ts';
import { freePort, startService, startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import {
  granted,
  grantFor,
  type HlsFixture,
  listFiles,
  makeHls,
  mediaHeaders,
  metric,
  put,
  sha256,
  startGateway,
} from './gateway-harness.ts';

const run = promisify(execFile);
const T0 = new Date('2026-11-21T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

// Started at file level: the helpers stop what they start when the file ends.
const db = await startTestDatabase();
const media = await tempDir('cctv-media-');
const [hlsA, hlsB] = await Promise.all([makeHls(media, 'a'), makeHls(media, 'b', '128x72')]);
const fast = { GATEWAY_NAS_RETRY_INITIAL_MS: '20', GATEWAY_NAS_RETRY_MAX_MS: '100' };
const gw = await startGateway(db, fast);

/**
 * Uploads an init file and its segments back to back from `start`, as `node`. The harness
 * enrols a node per gateway, which rotates its token: another gateway on this database uses
 * another node, so `gw`'s node-1 token stays valid.
 */
async function record(
  url: string,
  camera: string,
  hls: HlsFixture,
  start: Date,
  prefix = '',
  node = 'node-1',
): Promise<void> {
  assert.ok(
    (await put(url, camera, hls.init.name, hls.init.data, { [SEGMENT_HEADERS.node]: node })).status < 300,
  );
  let t = start.getTime();
  for (const seg of hls.segments) {
    const res = await put(
      url,
      camera,
      prefix + seg.name,
      seg.data,
      mediaHeaders(new Date(t), seg.durationMs, hls.init.name, node),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    t += seg.durationMs;
  }
}

const location = async (camera: string, name: string) =>
  (await gw.prisma.segment.findUnique({ where: { cameraId_name: { cameraId: camera, name } } }))?.location;

/** Makes the NAS unusable by putting a plain file where its directory should be. */
async function breakNas(nasDir: string): Promise<() => Promise<void>> {
  await rename(nasDir, `${nasDir}.away`).catch(() => {});
  await writeFile(nasDir, 'the share is not mounted');
  return async () => {
    await rm(nasDir);
    await rename(`${nasDir}.away`, nasDir).catch(() => {});
  };
}

describe('NAS outage', () => {
  it('keeps segments in the buffer, still serves them, and moves them when the NAS is back', async () => {
    const seg = hlsA.segments[0];
    assert.ok(seg);
    const repair = await breakNas(gw.config.nasDir);
    await record(gw.url, 'cam-n', { ...hlsA, segments: [seg] }, T0);
    await waitFor(
      'NAS failures counted',
      async () => (await metric(gw.url, 'cctv_gateway_nas_failures_total', 'reason="unreachable"')) >= 3,
    );
    assert.equal(await location('cam-n', seg.name), 'buffer');
    assert.equal(await metric(gw.url, 'cctv_gateway_buffer_segments'), 2);
    const segmentUrl = await granted(gw.url, `/v1/segments/cam-n/${seg.name}`);
    const buffered = await fetch(segmentUrl);
    assert.equal(buffered.headers.get('x-cctv-location'), 'buffer');
    assert.equal(sha256(Buffer.from(await buffered.arrayBuffer())), sha256(seg.data));
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as Record<string, unknown>;
    assert.equal(health.status, 'degraded');
    assert.equal(health.nas, 'failing');
    // The buffer's disk, for the master's disk alerts (the NAS's comes with retention sweeps).
    assert.ok(typeof health.bufferFreeBytes === 'number' && health.bufferFreeBytes > 0);
    assert.ok(
      typeof health.bufferTotalBytes === 'number' && health.bufferTotalBytes >= health.bufferFreeBytes,
    );
    assert.ok((await metric(gw.url, 'cctv_gateway_buffer_free_bytes')) > 0);

    await repair();
    await waitFor('segment on the NAS', async () => (await location('cam-n', seg.name)) === 'nas');
    await waitFor('buffer drained', async () => (await listFiles(gw.config.bufferDir)).length === 0);
    assert.equal(sha256(await readFile(join(gw.config.nasDir, 'cam-n', seg.name))), sha256(seg.data));
    const moved = await fetch(segmentUrl);
    assert.equal(moved.headers.get('x-cctv-location'), 'nas');
    assert.equal(sha256(Buffer.from(await moved.arrayBuffer())), sha256(seg.data));
    assert.equal(((await (await fetch(`${gw.url}/healthz`)).json()) as Record<string, unknown>).status, 'ok');
  });

  it('drains a backlog left in the buffer by a previous run', async () => {
    const root = await tempDir('cctv-gw-restart-');
    const dirs = { bufferDir: join(root, 'buffer'), nasDir: join(root, 'nas') };
    const first = await startGateway(db, fast, dirs);
    const repair = await breakNas(dirs.nasDir);
    await record(first.url, 'cam-r', hlsA, T0, '', 'node-restart');
    await first.stop();
    assert.equal((await listFiles(dirs.bufferDir)).filter((f) => f.startsWith('cam-r/')).length, 4);
    await repair();
    const second = await startGateway(db, fast, dirs);
    await waitFor('backlog drained', async () => (await listFiles(dirs.bufferDir)).length === 0);
    for (const seg of hlsA.segments) {
      assert.equal(await location('cam-r', seg.name), 'nas');
      assert.equal(sha256(await readFile(join(dirs.nasDir, 'cam-r', seg.name))), sha256(seg.data));
    }
    await second.stop();
  });
});

const range = `from=${at(-1000).toISOString()}&to=${at(60_000).toISOString()}`;
// An all-time VOD grant for cam-v, narrowed by the query.
const playlistUrl = await granted(gw.url, `/v1/vod/cam-v.m3u8?${range}`);

describe('VOD playlists', () => {
  const sumA = hlsA.segments.reduce((s, x) => s + x.durationMs, 0);
  before(async () => {
    await record(gw.url, 'cam-v', hlsA, T0);
    await record(gw.url, 'cam-v', hlsB, at(sumA + 10_000)); // a 10 s gap, then another init
    await record(gw.url, 'cam-v', hlsA, at(3 * 60 * 60 * 1000), 'late-'); // outside the range
  });

  it('lists the segments starting in the range, with maps, discontinuities and wall-clock times', async () => {
    const res = await fetch(playlistUrl, { headers: { origin: 'https://localhost:3000' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://localhost:3000');
    // A range of the past, but the all-time grant reaches into the present: not kept.
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
    const lines = (await res.text()).trim().split('\n');
    assert.equal(lines[0], '#EXTM3U');
    for (const tag of ['#EXT-X-VERSION:7', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-TARGETDURATION:3'])
      assert.ok(lines.includes(tag), tag);
    assert.equal(lines.at(-1), '#EXT-X-ENDLIST');
    const uris = lines.filter((l) => !l.startsWith('#'));
    const expected = [...hlsA.segments, ...hlsB.segments].map((s) => `../segments/cam-v/${s.name}`);
    assert.deepEqual(uris, expected);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('#EXT-X-MAP')),
      ['#EXT-X-MAP:URI="../segments/cam-v/init-a.mp4"', '#EXT-X-MAP:URI="../segments/cam-v/init-b.mp4"'],
    );
    assert.equal(lines.filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1);
    const firstB = lines.indexOf(`../segments/cam-v/${hlsB.segments[0]?.name}`);
    assert.deepEqual(lines.slice(firstB - 4, firstB - 1), [
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-MAP:URI="../segments/cam-v/init-b.mp4"',
      `#EXT-X-PROGRAM-DATE-TIME:${at(sumA + 10_000).toISOString()}`,
    ]);
    assert.equal(lines.filter((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')).length, 6);
    // The relative URIs resolve against the playlist URL, grant included, to segments the
    // gateway serves.
    const resolved = new URL(uris[0] ?? '', playlistUrl);
    assert.match(resolved.pathname, /^\/v1\/g\/[^/]+\/segments\/cam-v\//);
    assert.equal((await fetch(resolved)).status, 200);
    const map = new URL('../segments/cam-v/init-a.mp4', playlistUrl);
    assert.equal((await fetch(map)).status, 200);
    // Without the grant, neither the playlist nor its segments.
    assert.equal((await fetch(`${gw.url}/v1/vod/cam-v.m3u8?${range}`)).status, 401);
    assert.equal(
      (await fetch(`${gw.url}${resolved.pathname.replace(/^\/v1\/g\/[^/]+/, '/v1')}`)).status,
      401,
    );
  });

  it("lists the grant's whole range when the query names none", async () => {
    const res = await fetch(await granted(gw.url, '/v1/vod/cam-v.m3u8'));
    assert.equal(res.status, 200);
    const uris = (await res.text()).split('\n').filter((l) => l.endsWith('.m4s'));
    const expected = [
      ...hlsA.segments,
      ...hlsB.segments,
      ...hlsA.segments.map((s) => ({ name: `late-${s.name}` })),
    ];
    assert.deepEqual(
      uris,
      expected.map((s) => `../segments/cam-v/${s.name}`),
    );
  });

  it('is readable by ffprobe as H.265', async () => {
    const { stdout } = await run(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', playlistUrl],
      { timeout: 20_000 },
    );
    const probe = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string }[] };
    assert.equal(probe.streams[0]?.codec_name, 'hevc');
    const total = [...hlsA.segments, ...hlsB.segments].reduce((s, x) => s + x.durationMs, 0) / 1000;
    assert.ok(Math.abs(Number(probe.format.duration) - total) < 1, `${probe.format.duration} vs ${total}`);
  });

  it('refuses bad ranges with a clear error and answers 404 for an empty one', async () => {
    const cases = [
      `from=${T0.toISOString()}`,
      `to=${T0.toISOString()}`,
      `from=yesterday&to=${T0.toISOString()}`,
      `from=${T0.toISOString()}&to=${T0.toISOString()}`,
      `from=${at(1000).toISOString()}&to=${T0.toISOString()}`,
      `from=${T0.toISOString()}&to=${at(25 * 60 * 60 * 1000).toISOString()}`,
    ];
    for (const query of cases) {
      const res = await fetch(await granted(gw.url, `/v1/vod/cam-v.m3u8?${query}`));
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'bad_range', query);
      assert.ok(body.error.message.length > 0);
    }
    const empty = await fetch(
      await granted(
        gw.url,
        `/v1/vod/cam-v.m3u8?from=${at(-7200_000).toISOString()}&to=${at(-3600_000).toISOString()}`,
      ),
    );
    assert.equal(empty.status, 404);
    assert.equal(((await empty.json()) as { error: { code: string } }).error.code, 'no_segments');
    // A bad camera id in the path is refused as such, before the grant's camera is compared.
    const token = await grantFor(gw.url, { camera: 'cam-v', scope: 'vod' });
    const bad = await fetch(`${gw.url}${grantedPath(token, '/v1/vod/Bad_Cam.m3u8')}?${range}`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'bad_camera');
  });
});

describe('main entry point', () => {
  it('starts from the environment, ingests, and exits 0 on SIGTERM', async () => {
    const root = await tempDir('cctv-gw-main-');
    // Enrolled like a real node: the gateway checks its token against the shared database.
    const { uploadToken } = await enrolTestNodeFully(db.url, 'node-main');
    await registerTestCameras(db.url, 'node-main', ['cam-m']);
    const port = await freePort();
    const service = startService('storage-gateway/src/main.ts', {
      DATABASE_URL: db.gateway,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_DATA_DIR: root,
      GATEWAY_NAS_DIR: join(root, 'nas'),
      LOG_LEVEL: 'info',
    });
    const url = `https://127.0.0.1:${port}`;
    await waitFor('gateway up', async () => (await fetch(`${url}/healthz`)).ok, 20_000);
    const seg = hlsB.segments[0];
    assert.ok(seg);
    const headers = mediaHeaders(T0, seg.durationMs, hlsB.init.name, 'node-main');
    const unsigned = await put(url, 'cam-m', seg.name, seg.data, headers);
    assert.equal(unsigned.status, 401, 'uploads need a token by default');
    const res = await put(url, 'cam-m', seg.name, seg.data, {
      ...headers,
      authorization: `Bearer ${uploadToken}`,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    await waitFor('moved', async () => (await listFiles(join(root, 'nas'))).includes(`cam-m/${seg.name}`));
    const stopAt = Date.now();
    await service.kill('SIGTERM');
    assert.ok(Date.now() - stopAt < 5000, 'stops promptly');
    assert.equal(service.child.exitCode, 0, service.output());
    assert.match(service.output(), /"msg":"stopped"/);
  });

  it('refuses to start with a clear message on bad configuration', async () => {
    const service = startService('storage-gateway/src/main.ts', { DATABASE_URL: '', GATEWAY_PORT: 'eighty' });
    await waitFor('exit', () => service.child.exitCode !== null, 20_000);
    assert.equal(service.child.exitCode, 1);
    assert.match(service.output(), /DATABASE_URL is required/);
    assert.match(service.output(), /GATEWAY_PORT must be an integer/);
  });
});
