/**
 * Two gateway processes on one database and one NAS (docs/adr/0025), each with its own buffer:
 * a segment acknowledged by A is served by B (forwarded to A while it waits in A's buffer, from
 * the NAS after), a forward never loops nor goes anywhere but a registered gateway's read route,
 * A killed with kill -9 is a 503 at B and drains when it comes back, B's start-up reconciliation
 * leaves A's buffered rows alone, and retention runs on one gateway at a time (an advisory lock).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createPgPool, createPrismaClient } from '@cctv/db';
import { SEGMENT_HEADERS } from '@cctv/protocol';
import { gatewayPaths } from '@cctv/protocol/gateway-routes';
import { enrolTestNodeFully, registerTestCameras } from '../../test/support/enrol.ts';
import { testGrant } from '../../test/support/grants.ts';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
  waitHealthy,
} from '../../test/support/index.ts';
import { peerTarget } from '../src/cluster/peer-forwarder.ts';
import { listFiles, makeHls, mediaHeaders, metric, put, sha256, startGateway } from './gateway-harness.ts';

const db = await startTestDatabase();
const owner = createPrismaClient(db.owner, 1); // rows no service writes (a stray row, a ghost init)
onCleanup(() => owner.$disconnect());
const root = await tempDir('cctv-gws-');
const nasDir = join(root, 'nas');
await mkdir(nasDir);
// A reaches the one NAS through a link of its own: moving the link away is a NAS gone for A
// alone (the mover retries, the buffer holds), with the same files for both.
const nasLinkA = join(root, 'nas-a');
await symlink(nasDir, nasLinkA);
const ports = { a: await freePort(), b: await freePort() };
const urls = { a: `https://127.0.0.1:${ports.a}`, b: `https://127.0.0.1:${ports.b}` };
const bufferOf = (g: 'a' | 'b') => join(root, g, 'buffer');
const NODE = 'node-gws';
const { uploadToken } = await enrolTestNodeFully(db.url, NODE);
await registerTestCameras(db.url, NODE, ['cam-x', 'cam-old']);
const auth = { [SEGMENT_HEADERS.node]: NODE, authorization: `Bearer ${uploadToken}` };
const LOCK = [0x63637476, 1] as const; // the retention round's advisory lock (round-lock.ts)

async function start(g: 'a' | 'b'): Promise<ServiceProcess> {
  const svc = startService('storage-gateway/src/main.ts', {
    DATABASE_URL: db.gateway,
    GATEWAY_ID: `gw-${g}`,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(ports[g]),
    GATEWAY_DATA_DIR: join(root, g),
    GATEWAY_NAS_DIR: g === 'a' ? nasLinkA : nasDir,
    GATEWAY_NAS_RETRY_INITIAL_MS: '20',
    GATEWAY_NAS_RETRY_MAX_MS: '200',
    // Retention on both, every second: recordings of the last days are kept, 2020's go.
    GATEWAY_RETENTION_DAYS: '7',
    GATEWAY_RETENTION_INTERVAL_S: '1',
    GATEWAY_NAS_MIN_FREE_PERCENT: '0',
    LOG_LEVEL: 'warn',
  });
  await waitHealthy(svc, `${urls[g]}/healthz`);
  return svc;
}

const gw = { a: await start('a'), b: await start('b') };

const fixtures = await tempDir('cctv-gws-hls-');
const [run1, run2] = await Promise.all([makeHls(fixtures, 'r1'), makeHls(fixtures, 'r2')]);
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000);
const grant = await testGrant(db.url, { camera: 'cam-x', scope: 'vod' });
/** Every file of cam-x uploaded so far, by name: what any gateway must serve. */
const bytes = new Map<string, Buffer>();

async function upload(g: 'a' | 'b', camera: string, name: string, data: Buffer, startAt?: Date, init = '') {
  const headers = startAt ? { ...mediaHeaders(startAt, 2000, init, NODE), ...auth } : auth;
  const res = await put(urls[g], camera, name, data, headers);
  assert.equal(res.status, 201, `${g} ${camera}/${name}: ${JSON.stringify(res.body)}`);
  if (camera === 'cam-x') bytes.set(name, data);
}

async function rows(camera: string) {
  return owner.segment.findMany({ where: { cameraId: camera }, orderBy: { name: 'asc' } });
}

function read(g: 'a' | 'b', name: string, init: RequestInit = {}, token = grant) {
  return fetch(`${urls[g]}${gatewayPaths.segment(token, 'cam-x', name)}`, init);
}

async function peerReads(g: 'a' | 'b') {
  const count = async (result: string) =>
    metric(urls[g], 'cctv_gateway_peer_reads_total', `result="${result}"`);
  return {
    served: await count('served'),
    not_found: await count('not_found'),
    refused: await count('refused'),
    unavailable: await count('unavailable'),
  };
}

describe('several gateways on one index and one NAS', () => {
  it('register where their peers reach them', async () => {
    const registered = await owner.gateway.findMany({ orderBy: { id: 'asc' } });
    assert.deepEqual(
      registered.map((r) => [r.id, r.url]),
      [
        ['gw-a', urls.a],
        ['gw-b', urls.b],
      ],
    );
    const seen = registered[0]?.seenAt.getTime() ?? 0;
    await waitFor(
      'a heartbeat',
      async () => {
        const row = await owner.gateway.findUnique({ where: { id: 'gw-a' } });
        return (row?.seenAt.getTime() ?? 0) > seen;
      },
      15_000,
    );
  });

  it('serve what another gateway holds in its buffer, byte for byte, ranges included', async () => {
    // B takes a first recording of the camera (so B has a buffer folder for it); it reaches the NAS.
    const [first] = run1.segments;
    assert.ok(first);
    await upload('b', 'cam-x', run1.init.name, run1.init.data);
    await upload('b', 'cam-x', first.name, first.data, T0, run1.init.name);
    await waitFor('B moved its upload', async () => (await rows('cam-x')).every((r) => r.location === 'nas'));
    // A's NAS goes away: A acknowledges into its buffer and holds it there.
    await rename(nasLinkA, `${nasLinkA}.held`);
    await upload('a', 'cam-x', run2.init.name, run2.init.data);
    for (const [i, seg] of run2.segments.entries())
      await upload(
        'a',
        'cam-x',
        seg.name,
        seg.data,
        new Date(T0.getTime() + 60_000 + i * 2000),
        run2.init.name,
      );
    const held = (await rows('cam-x')).filter((r) => r.initName === run2.init.name);
    assert.deepEqual(
      held.map((r) => [r.location, r.gatewayId]),
      run2.segments.map(() => ['buffer', 'gw-a']),
    );
    assert.equal((await rows('cam-x')).find((r) => r.name === first.name)?.gatewayId, 'gw-b');
    assert.deepEqual(await listFiles(join(nasDir, 'cam-x')), [run1.init.name, first.name].sort());

    for (const name of [run2.init.name, ...run2.segments.map((s) => s.name)]) {
      const res = await read('b', name);
      assert.equal(res.status, 200, `${name}: ${await res.clone().text()}`);
      assert.equal(res.headers.get('x-cctv-served-by'), 'gw-a');
      assert.equal(res.headers.get('x-cctv-location'), 'buffer');
      assert.match(res.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes.get(name) as Buffer), name);
    }
    const seg = run2.segments[1];
    assert.ok(seg);
    const part = await read('b', seg.name, { headers: { range: 'bytes=100-1099' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-1099/${seg.data.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), seg.data.subarray(100, 1100));
    const past = await read('b', seg.name, { headers: { range: `bytes=${seg.data.length}-` } });
    assert.equal(past.status, 416);
    await past.body?.cancel();
    const head = await read('b', seg.name, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(seg.data.length));

    // What a player of B's VOD playlist fetches, both recordings, from wherever each file is.
    const playlistUrl = `${urls.b}${gatewayPaths.vodPlaylist(grant, 'cam-x')}`;
    const playlist = await (await fetch(playlistUrl)).text();
    const uris = [...playlist.matchAll(/URI="([^"]+)"|^([^#\s][^\s]*)$/gm)].map((m) => m[1] ?? m[2] ?? '');
    assert.equal(uris.length, 2 + 1 + run2.segments.length, playlist);
    for (const uri of uris) {
      const res = await fetch(new URL(uri, playlistUrl));
      assert.equal(res.status, 200, uri);
      const name = decodeURIComponent(uri.split('/').pop() ?? '');
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes.get(name) as Buffer), uri);
    }
    // An H.264 rendition of a segment in A's buffer: A makes it.
    const rendition = await fetch(`${urls.b}${gatewayPaths.rendition(grant, 'cam-x', seg.name)}`);
    assert.equal(rendition.status, 200, await rendition.clone().text());
    assert.equal(rendition.headers.get('content-type'), 'video/mp2t');
    assert.equal(rendition.headers.get('x-cctv-served-by'), 'gw-a');
    assert.ok((await rendition.arrayBuffer()).byteLength > 1000);
    assert.ok((await peerReads('b')).served >= 4 + 2 * run2.segments.length);
  });

  it('never forwards a forwarded read, nor a read its grant does not open', async () => {
    // Rows naming an init that neither gateway has, taken by both: each would ask the other.
    await owner.segment.createMany({
      data: ['gw-a', 'gw-b'].map((gatewayId, i) => ({
        cameraId: 'cam-x',
        nodeId: NODE,
        name: `ghost-${i}.m4s`,
        initName: 'init-ghost.mp4',
        startAt: new Date(T0.getTime() + 300_000 + i * 2000),
        durationMs: 2000,
        bytes: 10,
        codec: 'hvc1',
        sha256: '0'.repeat(64),
        location: 'nas' as const,
        gatewayId,
      })),
    });
    try {
      const before = { a: await peerReads('a'), b: await peerReads('b') };
      const viaB = await read('b', 'init-ghost.mp4');
      assert.equal(viaB.status, 404);
      await viaB.body?.cancel();
      // B asked A once; A, asked by a peer, looked at its own files only.
      assert.deepEqual(await peerReads('b'), { ...before.b, not_found: before.b.not_found + 1 });
      assert.deepEqual(await peerReads('a'), before.a);
      const viaA = await read('a', 'init-ghost.mp4');
      assert.equal(viaA.status, 404);
      await viaA.body?.cancel();
      assert.deepEqual(await peerReads('a'), { ...before.a, not_found: before.a.not_found + 1 });
      assert.deepEqual(await peerReads('b'), { ...before.b, not_found: before.b.not_found + 1 });
    } finally {
      await owner.segment.deleteMany({ where: { cameraId: 'cam-x', initName: 'init-ghost.mp4' } });
    }

    const seg = run2.segments[0];
    assert.ok(seg);
    const before = await peerReads('b');
    // A client claiming to be a peer only stops the forward.
    const posing = await read('b', seg.name, { headers: { 'x-cctv-peer': 'gw-a' } });
    assert.equal(posing.status, 404);
    await posing.body?.cancel();
    // The grant is checked here before anything is asked of a peer.
    const other = await testGrant(db.url, { camera: 'cam-old', scope: 'vod' });
    const early = await testGrant(db.url, { camera: 'cam-x', scope: 'vod', from: 0, to: T0.getTime() });
    for (const [token, status] of [
      [`${grant.slice(0, -4)}AAAA`, 401],
      [other, 403],
      [early, 403],
    ] as const) {
      const res = await read('b', seg.name, {}, token);
      assert.equal(res.status, status);
      await res.body?.cancel();
    }
    assert.deepEqual(await peerReads('b'), before);
    // Only gateways in the Gateway table are asked: a row naming another is a 503, not a fetch.
    await owner.segment.create({
      data: {
        cameraId: 'cam-x',
        nodeId: NODE,
        name: 'stray.m4s',
        initName: run2.init.name,
        startAt: new Date(T0.getTime() + 400_000),
        durationMs: 2000,
        bytes: 10,
        codec: 'hvc1',
        sha256: '0'.repeat(64),
        location: 'buffer',
        gatewayId: 'gw-nowhere',
      },
    });
    try {
      const stray = await read('b', 'stray.m4s');
      assert.equal(stray.status, 503);
      assert.equal(((await stray.json()) as { error: { code: string } }).error.code, 'peer_unavailable');
    } finally {
      await owner.segment.deleteMany({ where: { name: 'stray.m4s' } });
    }
    assert.deepEqual(await peerReads('b'), { ...before, unavailable: before.unavailable + 1 });
  });

  it('only ever sends reads to a registered base URL, on its granted read routes', () => {
    const path = gatewayPaths.segment('g.r.ant', 'cam-x', 'a.m4s');
    assert.equal(peerTarget('https://gw-b:8090/cctv', path).href, `https://gw-b:8090/cctv${path}`);
    for (const base of ['ftp://gw-b', 'https://u:p@gw-b', 'https://gw-b/?q', 'gw-b:8090', 'file:///etc'])
      assert.throws(() => peerTarget(base, path), /not an http\(s\) base URL/, base);
    for (const bad of ['/v1/segments/cam-x/a.m4s', '//evil.example/v1/g/x', '@evil/v1/g/x'])
      assert.throws(() => peerTarget('https://gw-b:8090', bad), Error, bad);
  });

  it('answer 503 with Retry-After for what a killed gateway holds, and serve it once it drained', async () => {
    const seg = run2.segments[0];
    assert.ok(seg);
    await gw.a.kill('SIGKILL');
    const before = await peerReads('b');
    const started = Date.now();
    for (const name of [seg.name, run2.init.name]) {
      const res = await read('b', name);
      assert.equal(res.status, 503, name);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'peer_unavailable');
    }
    assert.ok(Date.now() - started < 5000, 'a dead peer is answered for at once');
    assert.equal((await peerReads('b')).unavailable, before.unavailable + 2);

    // B restarts meanwhile: A's buffered rows are A's, whatever B's buffer holds of the camera.
    await gw.b.kill('SIGTERM');
    gw.b = await start('b');
    await waitFor('B checked the NAS side', async () =>
      (await (await fetch(`${urls.b}/metrics`)).text()).includes(
        'cctv_gateway_index_orphan_files{where="nas"}',
      ),
    );
    assert.equal(await metric(urls.b, 'cctv_gateway_index_missing_segments'), 0);
    const afterB = (await rows('cam-x')).filter((r) => r.initName === run2.init.name);
    assert.deepEqual(
      afterB.map((r) => r.location),
      run2.segments.map(() => 'buffer'),
    );

    // A back with its NAS: its buffer drains, and B serves from the NAS.
    await rename(`${nasLinkA}.held`, nasLinkA);
    gw.a = await start('a');
    await waitFor(
      'A drained its buffer',
      async () => {
        const all = await rows('cam-x');
        return all.every((r) => r.location === 'nas') && (await listFiles(bufferOf('a'))).length === 0;
      },
      30_000,
    );
    for (const name of [run2.init.name, ...run2.segments.map((s) => s.name)]) {
      const res = await read('b', name);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('x-cctv-location'), 'nas');
      assert.equal(res.headers.get('x-cctv-served-by'), null);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes.get(name) as Buffer), name);
    }
  });

  it('run retention on one gateway at a time, deleting each old segment once', async () => {
    const skipped = async (g: 'a' | 'b') => metric(urls[g], 'cctv_gateway_retention_skipped_total');
    const deleted = async (g: 'a' | 'b') =>
      metric(urls[g], 'cctv_gateway_retention_deleted_segments_total', 'reason="age"');
    // The test holds the lock as a gateway would for a round: both skip theirs meanwhile.
    const pool = createPgPool(db.gateway, 1, () => {});
    const holder = await pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [...LOCK]);
      const skippedBefore = { a: await skipped('a'), b: await skipped('b') };
      await upload('a', 'cam-old', 'init-old.mp4', randomBytes(700));
      const old = Array.from({ length: 6 }, (_, i) => ({ name: `old-${i}.m4s`, data: randomBytes(3000) }));
      for (const [i, seg] of old.entries())
        await upload(
          i % 2 ? 'b' : 'a',
          'cam-old',
          seg.name,
          seg.data,
          new Date(Date.UTC(2020, 0, 1, 0, 0, i * 2)),
          'init-old.mp4',
        );
      await waitFor('old segments on the NAS', async () =>
        (await rows('cam-old')).every((r) => r.location === 'nas'),
      );
      await waitFor(
        'both skip their rounds',
        async () => (await skipped('a')) > skippedBefore.a + 1 && (await skipped('b')) > skippedBefore.b + 1,
      );
      assert.equal((await rows('cam-old')).length, 6);
      assert.equal((await deleted('a')) + (await deleted('b')), 0);
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1, $2)', [...LOCK]);
      holder.release();
      await pool.end();
    }
    await waitFor('old segments deleted', async () => (await rows('cam-old')).length === 0, 20_000);
    // Each deletion counted once: only the gateway whose DELETE took the row counts it.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await deleted('a')) + (await deleted('b')), 6);
    assert.deepEqual(
      (await listFiles(join(nasDir, 'cam-old'))).filter((n) => n.endsWith('.m4s')),
      [],
    );
    // Recent footage stays.
    assert.equal((await rows('cam-x')).length, 1 + run2.segments.length);
  });
});

describe('an upload sent again to another gateway (the answer was lost in a failover)', () => {
  it('takes the row over there, and the first gateway lets its own copy go', async () => {
    const dir = await tempDir('cctv-gws-again-');
    const shared = join(dir, 'nas');
    const dirsOf = (g: string) => ({ bufferDir: join(dir, g), nasDir: shared });
    // C's NAS is "not mounted" (a plain folder), so C holds what it takes.
    const c = await startGateway(db, { GATEWAY_ID: 'gw-c', GATEWAY_NAS_REQUIRE_MOUNT: 'true' }, dirsOf('c'));
    const d = await startGateway(db, { GATEWAY_ID: 'gw-d' }, dirsOf('d'));
    const data = randomBytes(5000);
    const headers = mediaHeaders(T0, 2000, 'init-again.mp4');
    assert.equal((await put(c.url, 'cam-again', 'again.m4s', data, headers)).status, 201);
    const where = async () => {
      const row = await owner.segment.findUnique({
        where: { cameraId_name: { cameraId: 'cam-again', name: 'again.m4s' } },
      });
      return `${row?.location}@${row?.gatewayId}`;
    };
    assert.equal(await where(), 'buffer@gw-c');
    const again = await put(d.url, 'cam-again', 'again.m4s', data, headers);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    await waitFor('D moved it', async () => (await where()) === 'nas@gw-d');
    assert.deepEqual(await listFiles(join(dir, 'c')), ['cam-again/again.m4s']);
    await c.stop();
    // C back with the NAS: its copy is of a segment already there, and goes.
    const back = await startGateway(db, { GATEWAY_ID: 'gw-c' }, dirsOf('c'));
    await back.gateway.reconciled();
    assert.deepEqual(await listFiles(join(dir, 'c')), []);
    assert.equal(await where(), 'nas@gw-d');
    assert.equal(sha256(await readFile(join(shared, 'cam-again', 'again.m4s'))), sha256(data));
    await Promise.all([back.stop(), d.stop()]);
  });
});
