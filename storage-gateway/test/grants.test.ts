/**
 * Access to footage at a real gateway: every read needs a grant the master signed (camera,
 * scope, time range, expiry), checked before any file is opened or transcode slot taken;
 * browsers of other origins get no CORS; and a node uploads only for the cameras it owns.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type GrantScope,
  grantedPath,
  SEGMENT_HEADERS,
  SNAPSHOT_HEADERS,
  snapshotPath,
} from '@cctv/protocol';
import { SignJWT } from 'jose';
import { startTestDatabase, tempDir, waitFor } from '../../test/support/index.ts';
import {
  authHeaders,
  createEvent,
  grantFor,
  type HlsFixture,
  listFiles,
  makeHls,
  mediaHeaders,
  metric,
  put,
  type RunningGateway,
  registerCamera,
  sha256,
  startGateway,
} from './gateway-harness.ts';

const CAMERA = 'cam-g';
const OTHER = 'cam-o';
const DASHBOARD = 'https://dashboard.example.org';
// In the past (more than an hour ago): a playlist of a range there no longer changes.
const T0 = new Date('2026-11-28T09:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const SPACING_MS = 2000;

// Started at file level: the helpers stop what they start when the file ends.
const [db, media] = await Promise.all([startTestDatabase(), tempDir('cctv-grants-media-')]);
const hls: HlsFixture = await makeHls(media, 'g');
const gw: RunningGateway = await startGateway(db, { GATEWAY_CORS_ORIGINS: DASHBOARD });
const renditionDir = gw.config.rendition.dir;

/** A JPEG as far as the gateway checks (its signature). */
const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(512)]);

/** A snapshot PUT as `node`, with its own credentials (the harness's `put` is for segments). */
async function putSnapshot(camera: string, name: string, node = 'node-1') {
  const res = await fetch(`${gw.url}${snapshotPath(camera, name)}`, {
    method: 'PUT',
    body: new Uint8Array(jpeg),
    headers: {
      'content-type': 'image/jpeg',
      [SNAPSHOT_HEADERS.sha256]: sha256(jpeg),
      ...(await authHeaders(gw.url, node)),
    },
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

// cam-g: an init and three segments, SPACING_MS apart from T0, and an event with its snapshot.
assert.ok(hls.segments.length >= 3, 'the fixture has three segments');
const [seg0, seg1, seg2] = hls.segments as [
  HlsFixture['segments'][0],
  HlsFixture['segments'][0],
  HlsFixture['segments'][0],
];
assert.equal((await put(gw.url, CAMERA, hls.init.name, hls.init.data)).status, 201);
for (const [i, seg] of [seg0, seg1, seg2].entries()) {
  const res = await put(
    gw.url,
    CAMERA,
    seg.name,
    seg.data,
    mediaHeaders(at(i * SPACING_MS), seg.durationMs, hls.init.name),
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
}
const event = await createEvent(gw.setup, CAMERA, at(1000));
const SNAPSHOT = `${event}-1.jpg`;
assert.equal((await putSnapshot(CAMERA, SNAPSHOT)).status, 201);
// Another camera's event, whose snapshot a cam-g grant must not open by naming it under cam-g.
const otherEvent = await createEvent(gw.setup, OTHER, at(1000));

const stem = (name: string) => name.replace(/\.m4s$/, '');
/** Every read route, for cam-g (`camera`), with the scope a grant for it needs. */
const routes = (camera = CAMERA): { name: string; path: string; scope: GrantScope }[] => [
  { name: 'vod playlist', path: `/v1/vod/${camera}.m3u8`, scope: 'vod' },
  { name: 'vod h264 playlist', path: `/v1/vod/${camera}/h264.m3u8`, scope: 'vod' },
  { name: 'live playlist', path: `/v1/live/${camera}.m3u8`, scope: 'live' },
  { name: 'live h264 playlist', path: `/v1/live/${camera}/h264.m3u8`, scope: 'live' },
  { name: 'segment', path: `/v1/segments/${camera}/${seg0.name}`, scope: 'vod' },
  { name: 'rendition', path: `/v1/renditions/h264/${camera}/${stem(seg0.name)}.ts`, scope: 'vod' },
  { name: 'snapshot', path: `/v1/snapshots/${camera}/${SNAPSHOT}`, scope: 'snapshot' },
];

type ErrorBody = { error: { code: string; message: string } };
/** GET (or HEAD) of `path` under `grant`; the status and, for a GET refusal, the error code. */
async function read(
  grant: string | null,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; code: string | null; headers: Headers; body: Buffer }> {
  const res = await fetch(`${gw.url}${grant === null ? path : grantedPath(grant, path)}`, init);
  const body = Buffer.from(await res.arrayBuffer());
  let code: string | null = null;
  if (res.status >= 400 && body.length > 0) code = (JSON.parse(body.toString()) as ErrorBody).error.code;
  return { status: res.status, code, headers: res.headers, body };
}

const refusals = (reason: string) =>
  metric(gw.url, 'cctv_gateway_grant_refusals_total', `reason="${reason}"`);
const grantedReads = () => metric(gw.url, 'cctv_gateway_granted_reads_total');
const grant = (camera: string, scope: GrantScope, from?: Date, to?: Date, ttlS?: number) =>
  grantFor(gw.url, {
    camera,
    scope,
    ...(from ? { from: from.getTime() } : {}),
    ...(to ? { to: to.getTime() } : {}),
    ...(ttlS !== undefined ? { ttlS } : {}),
  });
const part = (token: string, i: number) => token.split('.')[i] ?? '';
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(part(token, 1), 'base64url').toString()) as { exp: number };
const headerOf = (token: string) =>
  JSON.parse(Buffer.from(part(token, 0), 'base64url').toString()) as { kid: string };
/** The token with the character at `index` of part `i` (0 header, 1 payload, 2 signature) changed. */
function flip(token: string, i: number, index: number): string {
  const parts = token.split('.');
  const text = parts[i] ?? '';
  const c = text[index];
  parts[i] = text.slice(0, index) + (c === 'A' ? 'B' : 'A') + text.slice(index + 1);
  return parts.join('.');
}

/** Renditions made, served from the cache, refused busy or failed: every use of a transcode slot. */
async function renditionUse(): Promise<number> {
  let total = 0;
  for (const result of ['transcoded', 'cache_hit', 'busy', 'failed'])
    total += await metric(gw.url, 'cctv_gateway_renditions_total', `result="${result}"`);
  return total;
}

/** Asserts that no ffmpeg ran and no slot was taken: nothing counted, nothing in the cache. */
async function assertNoTranscode(): Promise<void> {
  assert.equal(await renditionUse(), 0, 'a rendition was counted');
  assert.deepEqual(await listFiles(renditionDir), [], 'the rendition cache (and its temp area) holds a file');
  const { running, queued } = gw.gateway.renditions.state;
  assert.deepEqual({ running, queued }, { running: 0, queued: 0 });
}

describe('reads without a grant', () => {
  it('answer 401 grant_required on every read route, GET and HEAD, and are counted', async () => {
    const before = [await refusals('grant_required'), await grantedReads()];
    let refused = 0;
    for (const { name, path } of routes()) {
      const get = await read(null, path);
      assert.equal(get.status, 401, name);
      assert.equal(get.code, 'grant_required', name);
      assert.match(get.headers.get('www-authenticate') ?? '', /^Bearer realm=/, name);
      assert.ok(!get.headers.get('cache-control')?.includes('public'), name);
      const head = await read(null, path, { method: 'HEAD' });
      assert.equal(head.status, 401, `HEAD ${name}`);
      refused += 2;
    }
    assert.equal(await refusals('grant_required'), (before[0] ?? 0) + refused);
    assert.equal(await grantedReads(), before[1]);
    // An empty grant is no way around it.
    const empty = await fetch(`${gw.url}/v1/g//segments/${CAMERA}/${seg0.name}`);
    assert.ok(empty.status === 401 || empty.status === 404, String(empty.status));
    await assertNoTranscode();
  });
});

describe('grants that are not valid', () => {
  it('answer 401 bad_grant when a character of the signature or the payload is changed', async () => {
    const before = await refusals('bad_grant');
    let refused = 0;
    for (const { name, path, scope } of routes()) {
      const token = await grant(CAMERA, scope);
      // Unaltered, the grant opens the route (cam-g is not live: 404 not_live, not a refusal).
      // The rendition is left out: opening it would transcode.
      if (name !== 'rendition') {
        const ok = await read(token, path);
        assert.ok(ok.status === 200 || ok.code === 'not_live', `${name}: ${ok.status} ${ok.code}`);
      }
      for (const altered of [
        flip(token, 2, 10), // the signature
        flip(token, 1, 12), // the payload (claims)
        flip(token, 1, part(token, 1).length - 5),
        `${part(token, 0)}.${Buffer.from(JSON.stringify({ ...claimsOf(token), cam: CAMERA, exp: 2 ** 31 })).toString('base64url')}.${part(token, 2)}`,
        'not-a-grant',
      ]) {
        const res = await read(altered, path);
        assert.equal(res.status, 401, `${name}: ${altered}`);
        assert.equal(res.code, 'bad_grant', name);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
        refused++;
      }
    }
    assert.equal(await refusals('bad_grant'), before + refused);
    await assertNoTranscode();
  });

  it("refuses a grant signed with another key, under the master's key id or an unknown one", async () => {
    const real = await grant(CAMERA, 'vod');
    const { privateKey } = generateKeyPairSync('ed25519');
    const forge = (kid: string) =>
      new SignJWT({ cam: CAMERA, scp: 'vod', rng: [0, 2 ** 46] })
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setIssuer('cctv-master')
        .setAudience('cctv-gateway')
        .setSubject('mallory')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    const path = `/v1/segments/${CAMERA}/${seg0.name}`;
    const sameKid = await read(await forge(headerOf(real).kid), path);
    assert.deepEqual([sameKid.status, sameKid.code], [401, 'bad_grant']);
    const [unknownBefore] = [await refusals('unknown_key')];
    const unknown = await read(await forge('made-up-key'), path);
    assert.deepEqual([unknown.status, unknown.code], [401, 'unknown_key']);
    assert.equal(await refusals('unknown_key'), unknownBefore + 1);
    await assertNoTranscode();
  });

  it('answer 401 grant_expired once the grant has expired, verified before or not', async () => {
    const path = `/v1/segments/${CAMERA}/${seg0.name}`;
    const rendition = `/v1/renditions/h264/${CAMERA}/${stem(seg0.name)}.ts`;
    // A grant expires at a whole second: 3 s from issue leaves it at least 2 s to be used.
    const used = await grant(CAMERA, 'vod', undefined, undefined, 3);
    const unused = await grant(CAMERA, 'vod', undefined, undefined, 1);
    // Good while it lasts (and remembered by the gateway as verified).
    assert.equal((await read(used, path)).status, 200);
    const exp = Math.max(claimsOf(used).exp, claimsOf(unused).exp) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, exp - Date.now() + 250)));
    const before = await refusals('grant_expired');
    for (const token of [used, unused])
      for (const p of [path, rendition, `/v1/vod/${CAMERA}.m3u8`]) {
        const res = await read(token, p);
        assert.deepEqual([res.status, res.code], [401, 'grant_expired'], p);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
      }
    assert.equal(await refusals('grant_expired'), before + 6);
    await assertNoTranscode();
  });
});

describe('grants for something else', () => {
  it('answer 403 wrong_camera for another camera on playlists, segments, renditions and snapshots', async () => {
    const before = await refusals('wrong_camera');
    let refused = 0;
    for (const { name, path, scope } of routes()) {
      const res = await read(await grant(OTHER, scope), path);
      assert.deepEqual([res.status, res.code], [403, 'wrong_camera'], name);
      refused++;
    }
    // The init file of a camera needs a grant for that camera too.
    const init = await read(await grant(OTHER, 'vod'), `/v1/segments/${CAMERA}/${hls.init.name}`);
    assert.deepEqual([init.status, init.code], [403, 'wrong_camera']);
    // Another camera's event named under the granted camera.
    const snap = await read(await grant(CAMERA, 'snapshot'), `/v1/snapshots/${CAMERA}/${otherEvent}-1.jpg`);
    assert.deepEqual([snap.status, snap.code], [403, 'wrong_camera']);
    refused += 2;
    assert.equal(await refusals('wrong_camera'), before + refused);
    await assertNoTranscode();
  });

  it('answer 403 wrong_scope for a grant of another kind', async () => {
    const before = await refusals('wrong_scope');
    const [snapshot, live, vod] = await Promise.all([
      grant(CAMERA, 'snapshot'),
      grant(CAMERA, 'live'),
      grant(CAMERA, 'vod'),
    ]);
    const cases: [string, string][] = [
      [snapshot, `/v1/segments/${CAMERA}/${seg0.name}`],
      [snapshot, `/v1/segments/${CAMERA}/${hls.init.name}`],
      [snapshot, `/v1/renditions/h264/${CAMERA}/${stem(seg0.name)}.ts`],
      [snapshot, `/v1/vod/${CAMERA}.m3u8`],
      [snapshot, `/v1/live/${CAMERA}.m3u8`],
      [live, `/v1/vod/${CAMERA}.m3u8`],
      [live, `/v1/vod/${CAMERA}/h264.m3u8`],
      [live, `/v1/snapshots/${CAMERA}/${SNAPSHOT}`],
      [vod, `/v1/live/${CAMERA}.m3u8`],
      [vod, `/v1/live/${CAMERA}/h264.m3u8`],
      [vod, `/v1/snapshots/${CAMERA}/${SNAPSHOT}`],
    ];
    for (const [token, path] of cases) {
      const res = await read(token, path);
      const { scp } = claimsOf(token) as unknown as { scp: string };
      assert.deepEqual([res.status, res.code], [403, 'wrong_scope'], `${scp} grant on ${path}`);
    }
    assert.equal(await refusals('wrong_scope'), before + cases.length);
    await assertNoTranscode();
  });
});

describe('the range of a VOD grant', () => {
  // [T0, T0 + SPACING_MS): the first segment starts in it, the next one at its end.
  const narrow = () => grant(CAMERA, 'vod', T0, at(SPACING_MS));

  it('lists only the segments that start in it, in both playlists', async () => {
    const token = await narrow();
    const h265 = await read(token, `/v1/vod/${CAMERA}.m3u8`);
    assert.equal(h265.status, 200);
    const uris = h265.body
      .toString()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(uris, [`../segments/${CAMERA}/${seg0.name}`]);
    // A past range no longer changes: cached, privately, for a minute at most.
    assert.match(h265.headers.get('cache-control') ?? '', /^private, max-age=([0-9]|[1-5][0-9]|60)$/);
    const h264 = await read(token, `/v1/vod/${CAMERA}/h264.m3u8`);
    assert.equal(h264.status, 200);
    assert.deepEqual(
      h264.body
        .toString()
        .split('\n')
        .filter((l) => l && !l.startsWith('#')),
      [`../../renditions/h264/${CAMERA}/${stem(seg0.name)}.ts`],
    );
    // An all-time grant lists all three, and reaches into the present: not kept.
    const all = await read(await grant(CAMERA, 'vod'), `/v1/vod/${CAMERA}.m3u8`);
    assert.equal(
      all.body
        .toString()
        .split('\n')
        .filter((l) => l.endsWith('.m4s')).length,
      3,
    );
    assert.equal(all.headers.get('cache-control'), 'private, no-cache');
  });

  it('takes a narrower ?from=&to= inside it, and refuses one reaching outside', async () => {
    const token = await grant(CAMERA, 'vod', T0, at(3 * SPACING_MS));
    const inside = await read(
      token,
      `/v1/vod/${CAMERA}.m3u8?from=${at(SPACING_MS).toISOString()}&to=${at(2 * SPACING_MS).toISOString()}`,
    );
    assert.equal(inside.status, 200);
    assert.deepEqual(
      inside.body
        .toString()
        .split('\n')
        .filter((l) => l.endsWith('.m4s')),
      [`../segments/${CAMERA}/${seg1.name}`],
    );
    const before = await refusals('outside_grant');
    for (const [from, to] of [
      [at(-1), at(SPACING_MS)],
      [T0, at(3 * SPACING_MS + 1)],
      [at(-3600_000), at(-1000)],
    ] as const) {
      const res = await read(
        token,
        `/v1/vod/${CAMERA}/h264.m3u8?from=${from.toISOString()}&to=${to.toISOString()}`,
      );
      assert.deepEqual(
        [res.status, res.code],
        [403, 'outside_grant'],
        `${from.toISOString()}..${to.toISOString()}`,
      );
    }
    assert.equal(await refusals('outside_grant'), before + 3);
    const bad = await read(token, `/v1/vod/${CAMERA}.m3u8?from=yesterday&to=${T0.toISOString()}`);
    assert.deepEqual([bad.status, bad.code], [400, 'bad_range']);
  });

  it('answers 403 outside_grant for a segment and a rendition starting outside it, without transcoding', async () => {
    const token = await narrow();
    const before = await refusals('outside_grant');
    for (const seg of [seg1, seg2]) {
      // Asked for directly (the start comes from the index) and after the playlist (remembered).
      for (const p of [
        `/v1/segments/${CAMERA}/${seg.name}`,
        `/v1/renditions/h264/${CAMERA}/${stem(seg.name)}.ts`,
      ]) {
        const res = await read(token, p);
        assert.deepEqual([res.status, res.code], [403, 'outside_grant'], p);
        const head = await read(token, p, { method: 'HEAD' });
        assert.equal(head.status, 403, `HEAD ${p}`);
      }
    }
    assert.equal((await read(token, `/v1/vod/${CAMERA}.m3u8`)).status, 200);
    const again = await read(token, `/v1/segments/${CAMERA}/${seg1.name}`);
    assert.deepEqual([again.status, again.code], [403, 'outside_grant']);
    assert.equal(await refusals('outside_grant'), before + 9);
    // In range: the first segment; the init file only needs the camera.
    const first = await read(token, `/v1/segments/${CAMERA}/${seg0.name}`);
    assert.equal(first.status, 200);
    assert.equal(sha256(first.body), sha256(seg0.data));
    const init = await read(token, `/v1/segments/${CAMERA}/${hls.init.name}`);
    assert.equal(init.status, 200);
    assert.equal(sha256(init.body), sha256(hls.init.data));
    await assertNoTranscode();
  });

  it('opens an event snapshot only when the event started in a snapshot grant’s range', async () => {
    const inRange = await grant(CAMERA, 'snapshot', T0, at(SPACING_MS));
    const got = await read(inRange, `/v1/snapshots/${CAMERA}/${SNAPSHOT}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, jpeg);
    const outside = await grant(CAMERA, 'snapshot', at(SPACING_MS), at(2 * SPACING_MS));
    const res = await read(outside, `/v1/snapshots/${CAMERA}/${SNAPSHOT}`);
    assert.deepEqual([res.status, res.code], [403, 'outside_grant']);
    // A name that is not an event's snapshot is not granted by any range.
    const plain = await read(await grant(CAMERA, 'snapshot'), `/v1/snapshots/${CAMERA}/evt-1.jpg`);
    assert.deepEqual([plain.status, plain.code], [403, 'outside_grant']);
  });
});

describe('granted reads', () => {
  it('are counted and cached only privately', async () => {
    const before = await grantedReads();
    const res = await read(await grant(CAMERA, 'vod'), `/v1/segments/${CAMERA}/${seg0.name}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), sha256(seg0.data));
    const cache = res.headers.get('cache-control') ?? '';
    assert.ok(cache.startsWith('private'), cache);
    assert.ok(!/public|immutable/.test(cache), cache);
    // At most the grant's remaining life (10 minutes for these).
    const maxAge = Number(/max-age=(\d+)/.exec(cache)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= 600, cache);
    assert.equal(await grantedReads(), before + 1);
  });

  it('of a rendition in range do transcode (what the refusals above never did)', async () => {
    await assertNoTranscode();
    const res = await read(
      await grant(CAMERA, 'vod', T0, at(SPACING_MS)),
      `/v1/renditions/h264/${CAMERA}/${stem(seg0.name)}.ts`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp2t');
    assert.ok(res.headers.get('cache-control')?.startsWith('private'));
    assert.equal(await metric(gw.url, 'cctv_gateway_renditions_total', 'result="transcoded"'), 1);
    assert.deepEqual(await listFiles(renditionDir), [`h264/${CAMERA}/${stem(seg0.name)}.ts`]);
  });
});

describe('CORS', () => {
  const path = `/v1/segments/${CAMERA}/${seg0.name}`;

  it('names no origin to a page of another origin, and never *', async () => {
    const token = await grant(CAMERA, 'vod');
    for (const origin of ['http://evil.example', 'http://localhost:3000', 'null']) {
      const res = await read(token, path, { headers: { origin } });
      assert.equal(res.status, 200, origin); // a browser is what refuses it the bytes
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      const preflight = await fetch(`${gw.url}${grantedPath(token, path)}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'range',
        },
      });
      assert.equal(preflight.headers.get('access-control-allow-origin'), null, `preflight ${origin}`);
      // Refusals say nothing to it either.
      const refused = await read(null, path, { headers: { origin } });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  it('echoes exactly a configured origin, on reads, refusals and preflights', async () => {
    const token = await grant(CAMERA, 'vod');
    const res = await read(token, path, { headers: { origin: DASHBOARD, range: 'bytes=0-9' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('access-control-allow-origin'), DASHBOARD);
    assert.match(res.headers.get('vary') ?? '', /origin/i);
    assert.match(res.headers.get('access-control-expose-headers') ?? '', /content-range/i);
    const refused = await read(await grant(OTHER, 'vod'), path, { headers: { origin: DASHBOARD } });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('access-control-allow-origin'), DASHBOARD);
    const preflight = await fetch(`${gw.url}${grantedPath(token, path)}`, {
      method: 'OPTIONS',
      headers: {
        origin: DASHBOARD,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'range',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), DASHBOARD);
    assert.ok(
      !/PUT/.test(preflight.headers.get('access-control-allow-methods') ?? ''),
      'no uploads from a page',
    );
    // Uploads are no browser's business, whatever its origin.
    const upload = await fetch(`${gw.url}/v1/segments/${CAMERA}/x.m4s`, {
      method: 'PUT',
      headers: { origin: DASHBOARD },
    });
    assert.equal(upload.headers.get('access-control-allow-origin'), null);
  });
});

describe('uploads for a camera the node does not own', () => {
  it("are refused 403 not_owner, counted, alerted, and leave nothing behind: another node's camera", async () => {
    const camera = 'cam-x';
    await registerCamera(gw.url, 'node-1', camera);
    const mine = await put(
      gw.url,
      camera,
      seg0.name,
      seg0.data,
      mediaHeaders(T0, seg0.durationMs, hls.init.name),
    );
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    const rows = async () =>
      (await gw.prisma.segment.findMany({ where: { cameraId: camera }, orderBy: { name: 'asc' } })).map(
        ({ location, ...row }) => row,
      );
    const rowsBefore = await rows();
    const counters = async () => ({
      segments: await metric(gw.url, 'cctv_gateway_segments_rejected_total', 'reason="not_owner"'),
      snapshots: await metric(gw.url, 'cctv_gateway_snapshots_rejected_total', 'reason="not_owner"'),
      foreignSegments: await metric(gw.url, 'cctv_gateway_foreign_uploads_total', 'kind="segment"'),
      foreignSnapshots: await metric(gw.url, 'cctv_gateway_foreign_uploads_total', 'kind="snapshot"'),
    });
    const before = await counters();

    // node-2 is enrolled and signs correctly: only the camera is not its own.
    const name = seg1.name;
    const segment = await fetch(`${gw.url}/v1/segments/${camera}/${name}`, {
      method: 'PUT',
      body: new Uint8Array(seg1.data),
      headers: {
        'content-type': 'application/octet-stream',
        [SEGMENT_HEADERS.sha256]: sha256(seg1.data),
        ...mediaHeaders(at(SPACING_MS), seg1.durationMs, hls.init.name, 'node-2'),
        ...(await authHeaders(gw.url, 'node-2')),
      },
    });
    assert.equal(segment.status, 403);
    const segmentError = ((await segment.json()) as ErrorBody).error;
    assert.equal(segmentError.code, 'not_owner');
    assert.match(segmentError.message, /belongs to another node/);
    const snapshotName = `${randomUUID()}-1.jpg`;
    const snapshot = await putSnapshot(camera, snapshotName, 'node-2');
    assert.equal(snapshot.status, 403, JSON.stringify(snapshot.body));
    assert.equal(snapshot.body.error?.code, 'not_owner');

    assert.deepEqual(await counters(), {
      segments: before.segments + 1,
      snapshots: before.snapshots + 1,
      foreignSegments: before.foreignSegments + 1,
      foreignSnapshots: before.foreignSnapshots + 1,
    });
    assert.deepEqual(await rows(), rowsBefore, 'the index is unchanged');
    assert.equal(await gw.prisma.segment.count({ where: { cameraId: camera, name } }), 0);
    const named = (files: string[], n: string) => files.filter((f) => f === `${camera}/${n}`);
    assert.deepEqual(named(await listFiles(gw.config.bufferDir), name), [], 'nothing in the buffer');
    assert.deepEqual(named(await listFiles(gw.config.nasDir), name), [], 'nothing on the NAS');
    assert.deepEqual(named(await listFiles(gw.config.snapshotDir), snapshotName), [], 'no snapshot');
    assert.deepEqual(await listFiles(join(gw.config.bufferDir, '.incoming')), [], 'no upload half kept');

    const alert = await waitFor(
      'the security alert',
      () =>
        gw.prisma.securityAlert.findFirst({
          where: {
            kind: 'foreign_upload',
            source: 'gateway',
            nodeId: 'node-2',
            cameraId: camera,
            count: { gte: 2 },
          },
        }),
      5000,
    );
    assert.equal(alert.count, 2);
    assert.match(alert.message, /node node-2 uploaded for camera cam-x, which belongs to node node-1/);
    assert.match(alert.address ?? '', /127\.0\.0\.1/);

    // Its owner's upload of the same name is taken: the refusal kept nothing in its way.
    const owners = await put(
      gw.url,
      camera,
      name,
      seg1.data,
      mediaHeaders(at(SPACING_MS), seg1.durationMs, hls.init.name),
    );
    assert.equal(owners.status, 201, JSON.stringify(owners.body));
  });

  it('are refused 403 not_owner for a camera no node registered', async () => {
    const camera = 'cam-nobody';
    const before = await metric(gw.url, 'cctv_gateway_segments_rejected_total', 'reason="not_owner"');
    const res = await fetch(`${gw.url}/v1/segments/${camera}/${seg0.name}`, {
      method: 'PUT',
      body: new Uint8Array(seg0.data),
      headers: {
        'content-type': 'application/octet-stream',
        [SEGMENT_HEADERS.sha256]: sha256(seg0.data),
        ...mediaHeaders(T0, seg0.durationMs, hls.init.name),
        ...(await authHeaders(gw.url, 'node-1')),
      },
    });
    assert.equal(res.status, 403);
    const error = ((await res.json()) as ErrorBody).error;
    assert.equal(error.code, 'not_owner');
    assert.match(error.message, /not registered/);
    const snapshot = await putSnapshot(camera, `${randomUUID()}-1.jpg`);
    assert.deepEqual([snapshot.status, snapshot.body.error?.code], [403, 'not_owner']);
    assert.equal(
      await metric(gw.url, 'cctv_gateway_segments_rejected_total', 'reason="not_owner"'),
      before + 1,
    );
    assert.equal(await gw.prisma.segment.count({ where: { cameraId: camera } }), 0);
    const mine = (files: string[]) => files.filter((f) => f.startsWith(`${camera}/`));
    assert.deepEqual(mine(await listFiles(gw.config.bufferDir)), []);
    assert.deepEqual(mine(await listFiles(gw.config.nasDir)), []);
    assert.deepEqual(mine(await listFiles(gw.config.snapshotDir)), []);
    assert.deepEqual(await listFiles(join(gw.config.bufferDir, '.incoming')), []);
    // No alert yet: a new node's first uploads may come before the master applied its hello
    // (the master down, say); refused and counted, they are retried. Only uploads refused for a
    // minute raise one (camera-owners.test.ts). Give the recorder a flush to show nothing was
    // written.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(
      await gw.prisma.securityAlert.count({ where: { kind: 'foreign_upload', cameraId: camera } }),
      0,
    );
  });
});
