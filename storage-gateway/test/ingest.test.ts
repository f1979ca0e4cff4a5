import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { grantedPath, SEGMENT_HEADERS, SNAPSHOT_HEADERS, snapshotPath } from '@cctv/protocol';
import { enrolTestNodeFully } from '../../test/support/enrol.ts';
import { startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import {
  authHeaders,
  granted,
  grantFor,
  type HlsFixture,
  listFiles,
  makeHls,
  mediaHeaders,
  metric,
  put,
  type RunningGateway,
  rawRequest,
  registerCamera,
  sha256,
  startGateway,
  type Upload,
} from './gateway-harness.ts';

const MAX = 256 * 1024;
const T0 = new Date('2026-11-20T08:00:00.000Z');

// Started at file level: the helpers stop what they start when the file ends.
const [db, media] = await Promise.all([startTestDatabase(), tempDir('cctv-media-')]);
const hls: HlsFixture = await makeHls(media, 'a');
const gw: RunningGateway = await startGateway(db, { GATEWAY_MAX_SEGMENT_BYTES: String(MAX) });

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
    const served = Buffer.from(
      await (await fetch(await granted(gw.url, `/v1/segments/cam-b/${seg.name}`))).arrayBuffer(),
    );
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
    const headers = {
      ...(await authHeaders(gw.url)),
      [SEGMENT_HEADERS.sha256]: sha256(data),
      'content-type': 'application/octet-stream',
    };
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
      headers: { ...(await authHeaders(gw.url)), [SEGMENT_HEADERS.sha256]: sha256(big) },
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
      // Signed with node-1's token: the header check refuses the bad node id before any auth.
      { ...good, ...(await authHeaders(gw.url)), [SEGMENT_HEADERS.node]: 'Bad Node' },
    ];
    for (const headers of cases) {
      const res = await put(gw.url, 'cam-f', seg.name, seg.data, headers);
      assert.equal(res.status, 400);
      assert.equal(res.body.error?.code, 'bad_headers');
    }
    assert.equal(await rejected('bad_headers'), cases.length + 1);
    assert.equal(await gw.prisma.segment.count({ where: { cameraId: 'cam-f' } }), 0);
  });

  it('serves byte ranges, HEAD and CORS for the dashboard, under a grant', async () => {
    const seg = hls.segments[1];
    assert.ok(seg);
    const url = await granted(gw.url, `/v1/segments/cam-b/${seg.name}`);
    const size = seg.data.length;
    const dashboard = 'https://localhost:3000'; // the default GATEWAY_CORS_ORIGINS
    const part = await fetch(url, { headers: { range: 'bytes=100-199', origin: dashboard } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${size}`);
    assert.equal(part.headers.get('content-type'), 'video/iso.segment');
    assert.equal(part.headers.get('access-control-allow-origin'), dashboard);
    assert.match(part.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
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
    const init = await fetch(await granted(gw.url, `/v1/segments/cam-b/${hls.init.name}`));
    assert.equal(init.headers.get('content-type'), 'video/mp4');
    assert.equal(sha256(Buffer.from(await init.arrayBuffer())), sha256(hls.init.data));
    const missing = await fetch(await granted(gw.url, '/v1/segments/cam-b/none.m4s'));
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: dashboard,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'range',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), dashboard);
    // Without a grant nothing is served, to the dashboard or anyone else.
    for (const method of ['GET', 'HEAD']) {
      const plain = await fetch(`${gw.url}/v1/segments/cam-b/${seg.name}`, {
        method,
        headers: { origin: dashboard },
      });
      assert.equal(plain.status, 401, method);
      if (method === 'GET')
        assert.equal(((await plain.json()) as { error: { code: string } }).error.code, 'grant_required');
    }
  });

  it('refuses read paths with .. under a grant as bad names, and without one with 401', async () => {
    const token = await grantFor(gw.url, { camera: 'cam-d', scope: 'vod' });
    const paths = [
      '/v1/segments/cam-d/a..b.m4s',
      '/v1/segments/cam-d/..%2Fescape.m4s',
      '/v1/segments/cam-d/%2E%2E%2Fescape.m4s',
      '/v1/segments/cam-d/%2e%2e',
    ];
    for (const path of paths) {
      const res = await rawRequest(gw.url, 'GET', grantedPath(token, path), Buffer.alloc(0));
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'bad_name', path);
      const plain = await rawRequest(gw.url, 'GET', path, Buffer.alloc(0));
      assert.equal(plain.status, 401, `${path}: ${plain.body}`);
      assert.equal(JSON.parse(plain.body).error.code, 'grant_required', path);
    }
    for (const path of ['/v1/segments/cam-d/../escape.m4s', '/v1/segments/cam-d/sub%2Fescape.m4s']) {
      const res = await rawRequest(gw.url, 'GET', grantedPath(token, path), Buffer.alloc(0));
      assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status} ${res.body}`);
      assert.equal((await rawRequest(gw.url, 'GET', path, Buffer.alloc(0))).status, 401, path);
    }
  });
});

interface Answer extends Upload {
  headers: Headers;
}

/** A PUT with exactly these headers: unlike the harness's `put`, it adds no credentials. */
async function putAsIs(
  url: string,
  path: string,
  data: Buffer,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { method: 'PUT', body: new Uint8Array(data), headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Upload['body'] };
}

const segmentPut = (
  url: string,
  camera: string,
  name: string,
  data: Buffer,
  headers: Record<string, string>,
) =>
  putAsIs(url, `/v1/segments/${camera}/${name}`, data, {
    'content-type': 'application/octet-stream',
    [SEGMENT_HEADERS.sha256]: sha256(data),
    ...headers,
  });

/** Nothing of `camera` in the buffer (temp area included), on the NAS or in the index. */
async function assertNothingKept(g: RunningGateway, camera: string): Promise<void> {
  const mine = (files: string[]) => files.filter((f) => f.startsWith(`${camera}/`));
  assert.deepEqual(mine(await listFiles(g.config.bufferDir)), []);
  assert.deepEqual(await listFiles(join(g.config.bufferDir, '.incoming')), []);
  assert.deepEqual(mine(await listFiles(g.config.nasDir)), []);
  assert.equal(await g.prisma.segment.count({ where: { cameraId: camera } }), 0);
}

/**
 * Gateways started here share the database with `gw`. Their start-up reconciliation takes the
 * rows another gateway still has in its buffer for lost ones, so `gw` is left with nothing in
 * flight first, and each test waits for its own segments to reach its NAS.
 */
async function startAnotherGateway(env: Record<string, string>): Promise<RunningGateway> {
  await waitFor('nothing buffered at the first gateway', async () => {
    const files = await listFiles(gw.config.bufferDir);
    return files.length === 0 && (await gw.prisma.segment.count({ where: { location: 'buffer' } })) === 0;
  });
  return startGateway(db, { GATEWAY_MAX_SEGMENT_BYTES: String(MAX), ...env });
}

const onNas = (g: RunningGateway, camera: string, name: string) =>
  waitFor(`${camera}/${name} on the NAS`, async () => {
    const row = await g.prisma.segment.findUnique({ where: { cameraId_name: { cameraId: camera, name } } });
    return row?.location === 'nas' ? row : null;
  });

describe('upload credentials', () => {
  const rejected = (reason: string, url = gw.url, kind = 'segments') =>
    metric(url, `cctv_gateway_${kind}_rejected_total`, `reason="${reason}"`);

  it('refuses an upload without a valid Authorization with 401, keeping nothing', async () => {
    const seg = hls.segments[0];
    assert.ok(seg);
    // node-1 owns the camera: only the missing credentials are wrong.
    await registerCamera(gw.url, 'node-1', 'cam-auth');
    const headers = mediaHeaders(T0, seg.durationMs, hls.init.name);
    const before = await rejected('unauthorized');
    const { authorization } = await authHeaders(gw.url);
    assert.ok(authorization);
    const refused = [
      await segmentPut(gw.url, 'cam-auth', seg.name, seg.data, headers),
      await segmentPut(gw.url, 'cam-auth', seg.name, seg.data, {
        ...headers,
        authorization: 'Basic bm9kZS0xOng=',
      }),
      await segmentPut(gw.url, 'cam-auth', seg.name, seg.data, { ...headers, authorization: 'Bearer' }),
      // The token alone does not say whose it is: an upload names its node.
      await segmentPut(gw.url, 'cam-auth', hls.init.name, hls.init.data, { authorization }),
    ];
    for (const res of refused) {
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body.error?.code, 'unauthorized');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    }
    assert.equal(await rejected('unauthorized'), before + refused.length);
    await assertNothingKept(gw, 'cam-auth');

    // The request line and headers are checked first, credentials or not.
    const badCamera = await segmentPut(gw.url, 'Cam_Auth', seg.name, seg.data, headers);
    assert.equal(badCamera.status, 400);
    assert.equal(badCamera.body.error?.code, 'bad_camera');
    const tooBig = await segmentPut(gw.url, 'cam-auth', 'big.mp4', randomBytes(MAX + 1), {});
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error?.code, 'too_large');
    assert.equal(await rejected('unauthorized'), before + refused.length);

    // The same upload with the node's token is taken.
    const ok = await segmentPut(gw.url, 'cam-auth', seg.name, seg.data, { ...headers, authorization });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    await onNas(gw, 'cam-auth', seg.name);
  });

  it("refuses with 403 another node's token, a made-up one and an unknown node", async () => {
    const seg = hls.segments[1];
    assert.ok(seg);
    const headers = mediaHeaders(T0, seg.durationMs, hls.init.name, 'node-1');
    const [node1, node2] = [await authHeaders(gw.url, 'node-1'), await authHeaders(gw.url, 'node-2')];
    // node-2 owns the camera: each refusal below is for the token, checked before the owner.
    await registerCamera(gw.url, 'node-2', 'cam-forbid');
    const before = await rejected('forbidden');
    const refused = [
      await segmentPut(gw.url, 'cam-forbid', seg.name, seg.data, {
        ...headers,
        authorization: node2.authorization ?? '',
      }),
      await segmentPut(gw.url, 'cam-forbid', seg.name, seg.data, {
        ...headers,
        authorization: `Bearer ${randomBytes(32).toString('base64url')}`,
      }),
      await segmentPut(gw.url, 'cam-forbid', seg.name, seg.data, {
        ...mediaHeaders(T0, seg.durationMs, hls.init.name, 'node-never-enrolled'),
        authorization: node1.authorization ?? '',
      }),
    ];
    for (const res of refused) {
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error?.code, 'forbidden');
    }
    assert.equal(await rejected('forbidden'), before + refused.length);
    assert.equal(await rejected('not_owner'), 0);
    await assertNothingKept(gw, 'cam-forbid');
    // node-2's token is good for node-2.
    const asNode2 = await segmentPut(gw.url, 'cam-forbid', seg.name, seg.data, {
      ...mediaHeaders(T0, seg.durationMs, hls.init.name, 'node-2'),
      ...node2,
    });
    assert.equal(asNode2.status, 201, JSON.stringify(asNode2.body));
    assert.equal((await onNas(gw, 'cam-forbid', seg.name)).nodeId, 'node-2');
  });

  it('refuses snapshots without a valid token the same way', async () => {
    // Only the JPEG signature is checked; the credentials before any of it.
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(512)]);
    const path = snapshotPath('cam-auth', 'evt-auth.jpg');
    await registerCamera(gw.url, 'node-1', 'cam-auth');
    const headers = {
      'content-type': 'image/jpeg',
      [SNAPSHOT_HEADERS.sha256]: sha256(jpeg),
      [SNAPSHOT_HEADERS.node]: 'node-1',
    };
    const [unauthorized, forbidden] = [
      await rejected('unauthorized', gw.url, 'snapshots'),
      await rejected('forbidden', gw.url, 'snapshots'),
    ];
    const none = await putAsIs(gw.url, path, jpeg, headers);
    assert.equal(none.status, 401, JSON.stringify(none.body));
    assert.equal(none.body.error?.code, 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer /);
    const { authorization } = await authHeaders(gw.url, 'node-2');
    const other = await putAsIs(gw.url, path, jpeg, { ...headers, authorization: authorization ?? '' });
    assert.equal(other.status, 403, JSON.stringify(other.body));
    assert.equal(other.body.error?.code, 'forbidden');
    assert.equal(await rejected('unauthorized', gw.url, 'snapshots'), unauthorized + 1);
    assert.equal(await rejected('forbidden', gw.url, 'snapshots'), forbidden + 1);
    assert.deepEqual(await listFiles(gw.config.snapshotDir), []);
    // Reads need a grant (and an event name), whatever was uploaded.
    assert.equal((await fetch(`${gw.url}${path}`)).status, 401);

    const ok = await putAsIs(gw.url, path, jpeg, { ...headers, ...(await authHeaders(gw.url)) });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual(await listFiles(gw.config.snapshotDir), ['cam-auth/evt-auth.jpg']);
  });

  it('refuses the old token of a re-enrolled node once its cached hash expires', async () => {
    const rot = await startAnotherGateway({ GATEWAY_UPLOAD_AUTH_CACHE_S: '0' });
    const [seg0, seg1] = hls.segments;
    assert.ok(seg0 && seg1);
    const headers = (i: number, token: string) => ({
      ...mediaHeaders(new Date(T0.getTime() + i * 2000), 2000, hls.init.name, 'node-rot'),
      authorization: `Bearer ${token}`,
    });
    const first = await enrolTestNodeFully(db.url, 'node-rot');
    assert.equal(
      (await put(rot.url, 'cam-rot', seg0.name, seg0.data, headers(0, first.uploadToken))).status,
      201,
    );
    const second = await enrolTestNodeFully(db.url, 'node-rot');
    assert.equal(second.rotated, true);
    assert.notEqual(second.uploadToken, first.uploadToken);
    const old = await put(rot.url, 'cam-rot', seg1.name, seg1.data, headers(1, first.uploadToken));
    assert.equal(old.status, 403, JSON.stringify(old.body));
    assert.equal(old.body.error?.code, 'forbidden');
    assert.equal(await rejected('forbidden', rot.url), 1);
    assert.equal(await rot.prisma.segment.count({ where: { cameraId: 'cam-rot', name: seg1.name } }), 0);
    const fresh = await put(rot.url, 'cam-rot', seg1.name, seg1.data, headers(1, second.uploadToken));
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    await onNas(rot, 'cam-rot', seg0.name);
    await onNas(rot, 'cam-rot', seg1.name);
  });

  it('with GATEWAY_UPLOAD_AUTH=off takes uploads without a token', async () => {
    const open = await startAnotherGateway({ GATEWAY_UPLOAD_AUTH: 'off' });
    const seg = hls.segments[0];
    assert.ok(seg);
    const res = await segmentPut(
      open.url,
      'cam-open',
      seg.name,
      seg.data,
      mediaHeaders(T0, seg.durationMs, hls.init.name, 'node-not-enrolled'),
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal((await onNas(open, 'cam-open', seg.name)).nodeId, 'node-not-enrolled');
    assert.equal(await rejected('unauthorized', open.url), 0);
  });
});

describe('a full buffer', () => {
  it('answers 503 buffer_full with Retry-After while the NAS is away, and takes the upload once it drains', async () => {
    const [first, second] = hls.segments;
    assert.ok(first && second);
    // Room for either segment, not for both.
    const room = Math.max(first.data.length, second.data.length) + 1024;
    assert.ok(first.data.length + second.data.length > room);
    const full = await startAnotherGateway({
      GATEWAY_BUFFER_MAX_BYTES: String(room),
      GATEWAY_BUFFER_MIN_FREE_BYTES: '0',
      GATEWAY_BUFFER_RETRY_AFTER_S: '7',
    });
    const nasDir = full.config.nasDir;
    // The gateway made the NAS directory at start; without it every move fails as unreachable.
    await rename(nasDir, `${nasDir}.away`);
    const headers = (i: number) =>
      mediaHeaders(new Date(T0.getTime() + i * 2000), 2000, hls.init.name, 'node-full');
    assert.equal((await put(full.url, 'cam-full', first.name, first.data, headers(0))).status, 201);
    await waitFor(
      'the move failing',
      async () => (await metric(full.url, 'cctv_gateway_nas_failures_total', 'reason="unreachable"')) >= 2,
    );
    assert.equal(await metric(full.url, 'cctv_gateway_buffer_segments'), 1);

    const auth = await authHeaders(full.url, 'node-full');
    const refused = await segmentPut(full.url, 'cam-full', second.name, second.data, {
      ...headers(1),
      ...auth,
    });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'buffer_full');
    assert.equal(refused.headers.get('retry-after'), '7');
    assert.equal(await metric(full.url, 'cctv_gateway_segments_rejected_total', 'reason="buffer_full"'), 1);
    assert.deepEqual(await listFiles(full.config.bufferDir), [`cam-full/${first.name}`]);
    assert.equal(await full.prisma.segment.count({ where: { cameraId: 'cam-full', name: second.name } }), 0);

    await rename(`${nasDir}.away`, nasDir);
    await onNas(full, 'cam-full', first.name);
    await waitFor('buffer drained', async () => (await listFiles(full.config.bufferDir)).length === 0);
    const taken = await segmentPut(full.url, 'cam-full', second.name, second.data, {
      ...headers(1),
      ...auth,
    });
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    await onNas(full, 'cam-full', second.name);
    assert.equal(sha256(await readFile(join(nasDir, 'cam-full', second.name))), sha256(second.data));
  });
});

/** The NAS worker process of a gateway of this test process (its argv carries the NAS path). */
async function nasWorkerPid(g: RunningGateway): Promise<number> {
  return waitFor('the NAS worker', async () => {
    for (const pid of await readdir('/proc')) {
      if (!/^[0-9]+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmd.includes('nas-worker') && cmd.includes(JSON.stringify(g.config.nasDir))) return Number(pid);
    }
    return null;
  });
}

describe('a mover behind a healthy NAS', () => {
  it('answers 503 nas_behind with Retry-After once the mover lags past the limit, and loses nothing', async () => {
    const [first, second, third] = hls.segments;
    assert.ok(first && second && third);
    const slow = await startAnotherGateway({ GATEWAY_NAS_LAG_MAX_BYTES: '1' });
    const headers = (i: number) =>
      mediaHeaders(new Date(T0.getTime() + i * 2000), 2000, hls.init.name, 'node-slow');
    assert.equal((await put(slow.url, 'cam-slow', first.name, first.data, headers(0))).status, 201);
    await onNas(slow, 'cam-slow', first.name);
    // A NAS that takes its time (the worker stopped mid-move) but has not failed: what is
    // acknowledged meanwhile is lag, not an outage the buffer is there for.
    const worker = await nasWorkerPid(slow);
    process.kill(worker, 'SIGSTOP');
    try {
      assert.equal((await put(slow.url, 'cam-slow', second.name, second.data, headers(1))).status, 201);
      const refused = await segmentPut(slow.url, 'cam-slow', third.name, third.data, {
        ...headers(2),
        ...(await authHeaders(slow.url, 'node-slow')),
      });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error?.code, 'nas_behind');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(await metric(slow.url, 'cctv_gateway_segments_rejected_total', 'reason="nas_behind"'), 1);
      assert.equal(await slow.prisma.segment.count({ where: { cameraId: 'cam-slow', name: third.name } }), 0);
      assert.deepEqual(await listFiles(slow.config.bufferDir), [`cam-slow/${second.name}`]);
    } finally {
      process.kill(worker, 'SIGCONT');
    }
    // The mover catches up, and the refused segment comes in when the agent retries.
    await onNas(slow, 'cam-slow', second.name);
    assert.equal((await put(slow.url, 'cam-slow', third.name, third.data, headers(2))).status, 201);
    await onNas(slow, 'cam-slow', third.name);
    for (const seg of [first, second, third])
      assert.equal(sha256(await readFile(join(slow.config.nasDir, 'cam-slow', seg.name))), sha256(seg.data));
  });
});
