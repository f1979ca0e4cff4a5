import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import {
  type HlsFixture,
  listFiles,
  makeHls,
  mediaHeaders,
  metric,
  put,
  type RunningGateway,
  rawRequest,
  sha256,
  startGateway,
} from './gateway-harness.ts';

const MAX = 256 * 1024;
const T0 = new Date('2026-11-20T08:00:00.000Z');

// Started at file level: the helpers stop what they start when the file ends.
const [db, media] = await Promise.all([startTestDatabase(), tempDir('cctv-media-')]);
const hls: HlsFixture = await makeHls(media, 'a');
const gw: RunningGateway = await startGateway(db.url, { GATEWAY_MAX_SEGMENT_BYTES: String(MAX) });

describe('segment ingest', () => {
  const rejected = (reason: string) =>
    metric(gw.url, 'cctv_gateway_segments_rejected_total', `reason="${reason}"`);

  it('stores, indexes and moves a segment to the NAS with matching sha256', async () => {
    const seg = hls.segments[0];
    assert.ok(seg);
    const init = await put(gw.url, 'cam-a', hls.init.name, hls.init.data);
    assert.equal(init.status, 201, JSON.stringify(init.body));
    const res = await put(
      gw.url,
      'cam-a',
      seg.name,
      seg.data,
      mediaHeaders(T0, seg.durationMs, hls.init.name),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.segment?.sha256, sha256(seg.data));

    const row = await waitFor('segment moved to the NAS', async () => {
      const r = await gw.prisma.segment.findUnique({
        where: { cameraId_name: { cameraId: 'cam-a', name: seg.name } },
      });
      return r?.location === 'nas' ? r : null;
    });
    assert.equal(row.nodeId, 'node-1');
    assert.equal(row.initName, hls.init.name);
    assert.equal(row.startAt.toISOString(), T0.toISOString());
    assert.equal(row.durationMs, seg.durationMs);
    assert.equal(row.bytes, seg.data.length);
    assert.equal(row.codec, 'hvc1');
    const onNas = await readFile(join(gw.config.nasDir, 'cam-a', seg.name));
    assert.equal(sha256(onNas), row.sha256);
    await waitFor('init moved', () => listFiles(gw.config.bufferDir).then((f) => f.length === 0));
    assert.equal(
      sha256(await readFile(join(gw.config.nasDir, 'cam-a', hls.init.name))),
      sha256(hls.init.data),
    );
    assert.deepEqual(
      await listFiles(gw.config.nasDir),
      [`cam-a/${seg.name}`, `cam-a/${hls.init.name}`].sort(),
    );
    assert.equal(await metric(gw.url, 'cctv_gateway_segments_ingested_total', 'kind="media"'), 1);
    assert.equal(
      await metric(gw.url, 'cctv_gateway_bytes_ingested_total'),
      seg.data.length + hls.init.data.length,
    );
    assert.equal(await metric(gw.url, 'cctv_gateway_nas_moves_total'), 2);
    assert.equal(await metric(gw.url, 'cctv_gateway_buffer_segments'), 0);
  });

  it('answers 200 to an identical re-PUT and 409 to other bytes under the same name', async () => {
    const seg = hls.segments[1];
    assert.ok(seg);
    const headers = mediaHeaders(new Date(T0.getTime() + 2000), seg.durationMs, hls.init.name);
    assert.equal((await put(gw.url, 'cam-b', seg.name, seg.data, headers)).status, 201);
    // The mover may change `location` meanwhile; everything else must stay as it was.
    const rows = async () =>
      (await gw.prisma.segment.findMany({ where: { cameraId: 'cam-b' } })).map(({ location, ...row }) => row);
    const before = await rows();
    const again = await put(gw.url, 'cam-b', seg.name, seg.data, headers);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, 'exists');
    const other = Buffer.concat([seg.data, Buffer.from('tail')]);
    const conflict = await put(gw.url, 'cam-b', seg.name, other, headers);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error?.code, 'conflict');
    assert.deepEqual(await rows(), before);
    const served = Buffer.from(await (await fetch(`${gw.url}/v1/segments/cam-b/${seg.name}`)).arrayBuffer());
    assert.equal(sha256(served), sha256(seg.data));
    assert.equal(await rejected('conflict'), 1);
    // An init file is idempotent the same way, without an index row.
    assert.equal((await put(gw.url, 'cam-b', hls.init.name, hls.init.data)).status, 201);
    assert.equal((await put(gw.url, 'cam-b', hls.init.name, hls.init.data)).status, 200);
    assert.equal((await put(gw.url, 'cam-b', hls.init.name, Buffer.from('not an init'))).status, 409);
  });

  it('refuses a body whose sha256 differs from the header, leaving nothing behind', async () => {
    const seg = hls.segments[2];
    assert.ok(seg);
    const res = await put(gw.url, 'cam-c', seg.name, seg.data, {
      ...mediaHeaders(T0, seg.durationMs, hls.init.name),
      [SEGMENT_HEADERS.sha256]: sha256('something else'),
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error?.code, 'sha256_mismatch');
    assert.match(res.body.error?.message ?? '', /does not match/);
    assert.equal(await rejected('sha256_mismatch'), 1);
    assert.equal(await gw.prisma.segment.count({ where: { cameraId: 'cam-c' } }), 0);
    assert.deepEqual(await listFiles(gw.config.bufferDir), []);
    const upper = await put(gw.url, 'cam-c', seg.name, seg.data, {
      ...mediaHeaders(T0, seg.durationMs, hls.init.name),
      [SEGMENT_HEADERS.sha256]: sha256(seg.data).toUpperCase(),
    });
    assert.equal(upper.status, 400);
    assert.equal(upper.body.error?.code, 'bad_headers');
  });

  it('refuses names with .. however they are spelled, never writing outside the buffer', async () => {
    const data = Buffer.from('x');
    const headers = { [SEGMENT_HEADERS.sha256]: sha256(data), 'content-type': 'application/octet-stream' };
    const parent = dirname(gw.config.bufferDir);
    const filesBefore = await readdir(parent);
    const paths = [
      '/v1/segments/cam-d/a..b.m4s',
      '/v1/segments/cam-d/..%2Fescape.m4s',
      '/v1/segments/cam-d/%2E%2E%2Fescape.m4s',
      '/v1/segments/cam-d/%2e%2e',
      '/v1/segments/cam-d/../escape.m4s',
      '/v1/segments/cam-d/..%2F..%2F..%2Fescape.m4s',
      '/v1/segments/cam-d/sub%2Fescape.m4s',
    ];
    for (const path of paths) {
      const res = await rawRequest(gw.url, 'PUT', path, data, headers);
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'bad_name', path);
    }
    assert.equal(await rejected('bad_name'), paths.length);
    const badCamera = await rawRequest(gw.url, 'PUT', '/v1/segments/..%2Fcam/x.m4s', data, headers);
    assert.equal(JSON.parse(badCamera.body).error.code, 'bad_camera');
    assert.equal(await rejected('bad_camera'), 1);
    assert.deepEqual(await readdir(parent), filesBefore);
    assert.equal(await stat(join(parent, 'escape.m4s')).catch(() => null), null);
    assert.deepEqual(await listFiles(join(gw.config.bufferDir, '.incoming')), []);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it('refuses bodies over the limit, declared or streamed', async () => {
    const big = randomBytes(MAX + 1);
    const declared = await put(gw.url, 'cam-e', 'big.mp4', big);
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error?.code, 'too_large');
    // No content-length: the limit is enforced while the body streams in.
    const chunks = [big.subarray(0, 100_000), big.subarray(100_000, 200_000), big.subarray(200_000)];
    const res = await fetch(`${gw.url}/v1/segments/cam-e/big.mp4`, {
      method: 'PUT',
      headers: { [SEGMENT_HEADERS.sha256]: sha256(big) },
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(new Uint8Array(next));
          else controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'too_large');
    assert.equal(await rejected('too_large'), 2);
    assert.deepEqual(await listFiles(gw.config.bufferDir), []);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it('refuses media segments with missing or malformed headers', async () => {
    const seg = hls.segments[0];
    assert.ok(seg);
    const good = mediaHeaders(T0, seg.durationMs, hls.init.name);
    const cases: Record<string, string>[] = [
      { ...good, [SEGMENT_HEADERS.start]: 'yesterday' },
      { ...good, [SEGMENT_HEADERS.durationMs]: '-5' },
      { ...good, [SEGMENT_HEADERS.init]: '../init.mp4' },
      { ...good, [SEGMENT_HEADERS.node]: 'Bad Node' },
    ];
    for (const headers of cases) {
      const res = await put(gw.url, 'cam-f', seg.name, seg.data, headers);
      assert.equal(res.status, 400);
      assert.equal(res.body.error?.code, 'bad_headers');
    }
    assert.equal(await rejected('bad_headers'), cases.length + 1);
    assert.equal(await gw.prisma.segment.count({ where: { cameraId: 'cam-f' } }), 0);
  });

  it('serves byte ranges, HEAD and CORS for players on another origin', async () => {
    const seg = hls.segments[1];
    assert.ok(seg);
    const url = `${gw.url}/v1/segments/cam-b/${seg.name}`;
    const size = seg.data.length;
    const part = await fetch(url, { headers: { range: 'bytes=100-199', origin: 'http://localhost:3000' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${size}`);
    assert.equal(part.headers.get('content-type'), 'video/iso.segment');
    assert.equal(part.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), seg.data.subarray(100, 200));
    const tail = await fetch(url, { headers: { range: 'bytes=-50' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), seg.data.subarray(size - 50));
    const open = await fetch(url, { headers: { range: `bytes=${size - 10}-` } });
    assert.deepEqual(Buffer.from(await open.arrayBuffer()), seg.data.subarray(size - 10));
    const beyond = await fetch(url, { headers: { range: `bytes=${size}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${size}`);
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(size));
    assert.equal(head.headers.get('accept-ranges'), 'bytes');
    const init = await fetch(`${gw.url}/v1/segments/cam-b/${hls.init.name}`);
    assert.equal(init.headers.get('content-type'), 'video/mp4');
    assert.equal(sha256(Buffer.from(await init.arrayBuffer())), sha256(hls.init.data));
    const missing = await fetch(`${gw.url}/v1/segments/cam-b/none.m4s`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'range',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  });
});
