import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { grantedPath, SNAPSHOT_HEADERS, SNAPSHOT_MAX_BYTES, snapshotPath } from '@cctv/protocol';
import { startTestDatabase, tempDir } from '../../test/support/index.ts';
import {
  authHeaders,
  createEvent,
  granted,
  grantFor,
  listFiles,
  metric,
  type RunningGateway,
  rawRequest,
  registerCamera,
  sha256,
  startGateway,
} from './gateway-harness.ts';

const run = promisify(execFile);

/** One frame of test pattern, encoded by real ffmpeg (`.jpg` gives JPEG, `.png` PNG). */
async function frame(dir: string, file: string, source: string): Promise<Buffer> {
  const out = join(dir, file);
  await run(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', source, '-frames:v', '1', out],
    { timeout: 30_000 },
  );
  return readFile(out);
}

interface Answer {
  status: number;
  body: {
    status?: string;
    snapshot?: { camera: string; name: string; sha256: string; bytes: number; path: string };
    error?: { code: string; message: string };
  };
}

async function putSnapshot(
  url: string,
  camera: string,
  name: string,
  data: Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  // Uploads are taken only from the camera's node: node-1 owns every camera of this file.
  if (/^[a-z0-9][a-z0-9-]{0,62}$/.test(camera)) await registerCamera(url, 'node-1', camera);
  const res = await fetch(`${url}${snapshotPath(camera, name)}`, {
    method: 'PUT',
    body: new Uint8Array(data),
    headers: {
      'content-type': 'image/jpeg',
      [SNAPSHOT_HEADERS.sha256]: sha256(data),
      // Signed as node-1, as its agent would.
      ...(await authHeaders(url, 'node-1')),
      ...headers,
    },
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

// Started at file level: the helpers stop what they start when the file ends.
const [db, media] = await Promise.all([startTestDatabase(), tempDir('cctv-snap-')]);
const [jpeg, otherJpeg, png] = await Promise.all([
  frame(media, 'a.jpg', 'testsrc=s=320x180'),
  frame(media, 'b.jpg', 'testsrc2=s=320x180'),
  frame(media, 'c.png', 'testsrc=s=320x180'),
]);
const gw: RunningGateway = await startGateway(db);
const snapshotDir = gw.config.snapshotDir;
// Snapshots are read by event: `<event id>-<n>.jpg` of an event of the camera, under a grant.
const eventA = await createEvent(gw.setup, 'cam-a');
const eventC = await createEvent(gw.setup, 'cam-c');
const NAME_A = `${eventA}-1.jpg`;
const NAME_C = `${eventC}-1.jpg`;

describe('event snapshots', () => {
  const rejected = (reason: string) =>
    metric(gw.url, 'cctv_gateway_snapshots_rejected_total', `reason="${reason}"`);
  /** Files under the snapshot directory, the temp area included. */
  const stored = () => listFiles(snapshotDir);

  it('stores a JPEG durably and serves the same bytes under a grant, cached privately', async () => {
    assert.equal(snapshotDir, join(gw.config.dataDir, 'snapshots'));
    const res = await putSnapshot(gw.url, 'cam-a', NAME_A, jpeg);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      status: 'created',
      snapshot: {
        camera: 'cam-a',
        name: NAME_A,
        sha256: sha256(jpeg),
        bytes: jpeg.length,
        path: `/v1/snapshots/cam-a/${NAME_A}`,
      },
    });
    assert.deepEqual(await readFile(join(snapshotDir, 'cam-a', NAME_A)), jpeg);
    assert.deepEqual(await stored(), [`cam-a/${NAME_A}`]);

    const url = await granted(gw.url, `/v1/snapshots/cam-a/${NAME_A}`);
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/jpeg');
    // Only the browser holding the grant may keep it, at most as long as the grant lives.
    assert.match(got.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
    assert.equal(got.headers.get('content-length'), String(jpeg.length));
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    const etag = got.headers.get('etag');
    assert.match(etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), jpeg);

    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(jpeg.length));
    assert.equal(head.headers.get('content-type'), 'image/jpeg');
    assert.equal(head.headers.get('etag'), etag);
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const revalidated = await fetch(url, { headers: { 'if-none-match': etag ?? '' } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.get('etag'), etag);

    // The upload path itself serves nothing: reads need a grant.
    const plain = await fetch(`${gw.url}${res.body.snapshot?.path}`);
    assert.equal(plain.status, 401);
    assert.equal(((await plain.json()) as { error: { code: string } }).error.code, 'grant_required');

    assert.equal(await metric(gw.url, 'cctv_gateway_snapshots_stored_total'), 1);
    assert.equal(await metric(gw.url, 'cctv_gateway_snapshot_bytes_stored_total'), jpeg.length);
  });

  it('answers 200 to an identical re-PUT without rewriting, 409 to other bytes under the name', async () => {
    const path = join(snapshotDir, 'cam-a', NAME_A);
    const before = await stat(path);
    const again = await putSnapshot(gw.url, 'cam-a', NAME_A, jpeg, {
      'content-type': 'application/octet-stream',
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.status, 'exists');
    const after = await stat(path);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);

    const conflict = await putSnapshot(gw.url, 'cam-a', NAME_A, otherJpeg);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error?.code, 'conflict');
    assert.match(conflict.body.error?.message ?? '', /cannot be reused/);
    assert.deepEqual(await readFile(path), jpeg);
    assert.equal(await rejected('conflict'), 1);
    assert.deepEqual(await stored(), [`cam-a/${NAME_A}`]);
    assert.equal(await metric(gw.url, 'cctv_gateway_snapshots_stored_total'), 1);
  });

  it('settles concurrent uploads of one name: one is created, the rest exist or conflict', async () => {
    const same = await Promise.all([1, 2, 3].map(() => putSnapshot(gw.url, 'cam-b', 'evt-2.jpg', jpeg)));
    assert.deepEqual(same.map((r) => r.status).sort(), [200, 200, 201]);
    const mixed = await Promise.all([
      putSnapshot(gw.url, 'cam-b', 'evt-3.jpg', jpeg),
      putSnapshot(gw.url, 'cam-b', 'evt-3.jpg', otherJpeg),
    ]);
    assert.deepEqual(mixed.map((r) => r.status).sort(), [201, 409]);
    const winner = mixed[0]?.status === 201 ? jpeg : otherJpeg;
    assert.deepEqual(await readFile(join(snapshotDir, 'cam-b', 'evt-3.jpg')), winner);
    assert.deepEqual(await stored(), [`cam-a/${NAME_A}`, 'cam-b/evt-2.jpg', 'cam-b/evt-3.jpg']);
  });

  it('refuses a body whose sha256 differs from the header, leaving nothing behind', async () => {
    const before = await stored();
    const res = await putSnapshot(gw.url, 'cam-c', NAME_C, jpeg, {
      [SNAPSHOT_HEADERS.sha256]: sha256('something else'),
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error?.code, 'sha256_mismatch');
    assert.match(res.body.error?.message ?? '', /does not match/);
    assert.equal(await rejected('sha256_mismatch'), 1);
    assert.deepEqual(await stored(), before);
    const none = await fetch(await granted(gw.url, `/v1/snapshots/cam-c/${NAME_C}`));
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'not_found');

    const headerCases: Record<string, string>[] = [
      { [SNAPSHOT_HEADERS.sha256]: '' },
      { [SNAPSHOT_HEADERS.sha256]: sha256(jpeg).toUpperCase() },
      // Still signed with node-1's token: the header check refuses the bad node id first.
      { [SNAPSHOT_HEADERS.node]: 'Bad Node' },
    ];
    for (const headers of headerCases) {
      const bad = await putSnapshot(gw.url, 'cam-c', NAME_C, jpeg, headers);
      assert.equal(bad.status, 400, JSON.stringify(headers));
      assert.equal(bad.body.error?.code, 'bad_headers');
      assert.match(bad.body.error?.message ?? '', /^header x-cctv-/);
    }
    assert.equal(await rejected('bad_headers'), headerCases.length);
    assert.deepEqual(await stored(), before);
  });

  it('refuses bodies that are not JPEG and content types other than image/jpeg or octet-stream', async () => {
    const before = await stored();
    const notJpeg = await putSnapshot(gw.url, 'cam-c', 'evt-5.jpg', png);
    assert.equal(notJpeg.status, 415);
    assert.equal(notJpeg.body.error?.code, 'not_jpeg');
    assert.match(notJpeg.body.error?.message ?? '', /not a JPEG/);
    const empty = await putSnapshot(gw.url, 'cam-c', 'evt-5.jpg', Buffer.alloc(0));
    assert.equal(empty.body.error?.code, 'not_jpeg');
    assert.equal(await rejected('not_jpeg'), 2);

    const wrongType = await putSnapshot(gw.url, 'cam-c', 'evt-5.jpg', jpeg, { 'content-type': 'image/png' });
    assert.equal(wrongType.status, 415);
    assert.equal(wrongType.body.error?.code, 'bad_content_type');
    assert.equal(await rejected('bad_content_type'), 1);
    assert.deepEqual(await stored(), before);
  });

  it('refuses bodies over the limit, declared or streamed, and keeps serving', async () => {
    const before = await stored();
    const big = Buffer.concat([jpeg, randomBytes(SNAPSHOT_MAX_BYTES + 1 - jpeg.length)]);
    const declared = await putSnapshot(gw.url, 'cam-e', 'big.jpg', big);
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error?.code, 'too_large');
    // No content-length: the limit is enforced while the body streams in.
    const chunks = [big.subarray(0, 1_000_000), big.subarray(1_000_000, 3_000_000), big.subarray(3_000_000)];
    const res = await fetch(`${gw.url}/v1/snapshots/cam-e/big.jpg`, {
      method: 'PUT',
      headers: {
        'content-type': 'image/jpeg',
        [SNAPSHOT_HEADERS.sha256]: sha256(big),
        ...(await authHeaders(gw.url)),
      },
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
    assert.deepEqual(await stored(), before);
    // Exactly the limit is fine.
    const atLimit = big.subarray(0, SNAPSHOT_MAX_BYTES);
    assert.equal((await putSnapshot(gw.url, 'cam-e', 'limit.jpg', atLimit)).status, 201);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it('refuses bad names, .. and encoded slashes however spelled, never writing outside', async () => {
    // Reads of the same paths go under a valid grant, so the name checks are what refuses them.
    const token = await grantFor(gw.url, { camera: 'cam-d', scope: 'snapshot' });
    const headers = {
      [SNAPSHOT_HEADERS.sha256]: sha256(jpeg),
      'content-type': 'image/jpeg',
      ...(await authHeaders(gw.url)),
    };
    const parent = dirname(snapshotDir);
    const parentBefore = await readdir(parent);
    const before = await stored();
    const paths = [
      '/v1/snapshots/cam-d/evt.jpeg',
      '/v1/snapshots/cam-d/evt.png',
      '/v1/snapshots/cam-d/.hidden.jpg',
      '/v1/snapshots/cam-d/a..b.jpg',
      '/v1/snapshots/cam-d/..%2Fescape.jpg',
      '/v1/snapshots/cam-d/%2E%2E%2Fescape.jpg',
      '/v1/snapshots/cam-d/%2e%2e',
      '/v1/snapshots/cam-d/../escape.jpg',
      '/v1/snapshots/cam-d/..%2F..%2F..%2Fescape.jpg',
      '/v1/snapshots/cam-d/sub%2Fescape.jpg',
      '/v1/snapshots/cam-d/sub/escape.jpg',
      '/v1/snapshots/cam-d',
    ];
    for (const path of paths) {
      const res = await rawRequest(gw.url, 'PUT', path, jpeg, headers);
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'bad_name', path);
      assert.match(error.message, /snapshot (name|path)/, path);
      const got = await rawRequest(gw.url, 'GET', grantedPath(token, path), Buffer.alloc(0));
      assert.equal(got.status, 400, `GET ${path}: ${got.body}`);
      assert.equal(JSON.parse(got.body).error.code, 'bad_name', `GET ${path}`);
      const plain = await rawRequest(gw.url, 'GET', path, Buffer.alloc(0));
      assert.equal(plain.status, 401, `GET ${path} without a grant: ${plain.body}`);
      assert.equal(JSON.parse(plain.body).error.code, 'grant_required', `GET ${path}`);
    }
    assert.equal(await rejected('bad_name'), paths.length);
    for (const path of [
      '/v1/snapshots/..%2Fcam/x.jpg',
      '/v1/snapshots/Cam/x.jpg',
      '/v1/snapshots/../x.jpg',
    ]) {
      const res = await rawRequest(gw.url, 'PUT', path, jpeg, headers);
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      assert.equal(JSON.parse(res.body).error.code, 'bad_camera', path);
      if (path.includes('/../')) continue; // no camera level to read under a grant
      const got = await rawRequest(gw.url, 'GET', grantedPath(token, path), Buffer.alloc(0));
      assert.equal(got.status, 400, `GET ${path}: ${got.body}`);
      assert.equal(JSON.parse(got.body).error.code, 'bad_camera', `GET ${path}`);
    }
    assert.equal(await rejected('bad_camera'), 3);
    assert.deepEqual(await readdir(parent), parentBefore);
    assert.equal(await stat(join(parent, 'escape.jpg')).catch(() => null), null);
    assert.deepEqual(await stored(), before);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it('answers 404 for an unknown snapshot or event and serves byte ranges', async () => {
    // The event exists, its second picture does not.
    const unknown = await granted(gw.url, `/v1/snapshots/cam-a/${eventA}-2.jpg`);
    const missing = await fetch(unknown);
    assert.equal(missing.status, 404);
    const error = ((await missing.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'not_found');
    assert.equal(error.message, `no snapshot cam-a/${eventA}-2.jpg`);
    assert.equal((await fetch(unknown, { method: 'HEAD' })).status, 404);
    // No such event at all.
    const noEvent = await fetch(await granted(gw.url, `/v1/snapshots/cam-a/${randomUUID()}-1.jpg`));
    assert.equal(noEvent.status, 404);
    assert.match(((await noEvent.json()) as { error: { message: string } }).error.message, /^no event /);

    const url = await granted(gw.url, `/v1/snapshots/cam-a/${NAME_A}`);
    const size = jpeg.length;
    const dashboard = 'https://localhost:3000'; // the default GATEWAY_CORS_ORIGINS
    const part = await fetch(url, { headers: { range: 'bytes=0-99', origin: dashboard } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 0-99/${size}`);
    assert.equal(part.headers.get('content-type'), 'image/jpeg');
    assert.equal(part.headers.get('access-control-allow-origin'), dashboard);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), jpeg.subarray(0, 100));
    const tail = await fetch(url, { headers: { range: 'bytes=-50' } });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), jpeg.subarray(size - 50));
    const beyond = await fetch(url, { headers: { range: `bytes=${size}-` } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${size}`);
  });
});
