/**
 * Footage at the storage gateway is read only under a grant the master issued for one user, one
 * camera and one range, for a few minutes: replayed against the real master and gateway, from a
 * client with no session at all (what any web page or script on the network could do).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  type EventView,
  type ExportJobView,
  grantedPaths,
  grantOf,
  type PlaybackGrant,
  withGrant,
} from '@cctv/protocol';
import { dashboardOrigin } from '../support/dashboard.ts';
import { waitFor } from '../support/index.ts';
import { type ApiSession, signIn } from '../support/session.ts';
import {
  eventOf,
  type Footage,
  makeFootage,
  makeJpeg,
  type SecurityCluster,
  startSecurityCluster,
  type TestNode,
} from './support/cluster.ts';

const TTL_S = 8;
const SEGMENT_MS = 2000;

describe('footage: every read needs a grant for its camera and range', () => {
  let c: SecurityCluster;
  let node: TestNode;
  let other: TestNode;
  let viewer: ApiSession;
  let footage: Footage;
  const t0 = Date.now() - 10 * 60_000;
  const at = (i: number) => new Date(t0 + i * SEGMENT_MS);
  const segName = (i: number) => `cam-a-${String(i).padStart(6, '0')}.m4s`;
  const eventId = randomUUID();

  before(async () => {
    let jpeg: Buffer;
    [c, footage, jpeg] = await Promise.all([
      startSecurityCluster({ MASTER_GRANT_TTL_S: String(TTL_S) }),
      makeFootage(),
      makeJpeg(),
    ]);
    node = await c.node('node-a');
    other = await c.node('node-b');
    await node.hello(['cam-a']);
    await other.hello(['cam-b']);
    await c.owned('cam-a', 'node-a');
    await c.owned('cam-b', 'node-b');
    for (let i = 0; i < 3; i++) {
      const res = await node.putSegment(
        'cam-a',
        segName(i),
        footage.segments[i] as Buffer,
        at(i),
        footage.init,
      );
      assert.equal(res.status, 201, await res.text());
      const b = await other.putSegment(
        'cam-b',
        `cam-b-${i}.m4s`,
        footage.segments[i] as Buffer,
        at(i),
        footage.init,
      );
      assert.equal(b.status, 201, await b.text());
    }
    assert.equal((await node.putSnapshot('cam-a', `${eventId}-1.jpg`, jpeg)).status, 201);
    assert.equal((await node.putSnapshot('cam-a', `${eventId}-1-thumb.jpg`, jpeg)).status, 201);
    await node.event(
      eventOf(eventId, 'cam-a', at(1), {
        snapshot: {
          image: `/v1/snapshots/cam-a/${eventId}-1.jpg`,
          thumbnail: `/v1/snapshots/cam-a/${eventId}-1-thumb.jpg`,
          at: at(1).toISOString(),
          width: 64,
          height: 36,
          blurred: false,
        },
      }),
    );
    await waitFor('event stored', async () => (await c.db.event.count({ where: { id: eventId } })) === 1);
    const created = await c.admin.postJson('/api/users', {
      username: 'viewer.a',
      password: 'viewer-a-password-1',
      role: 'viewer',
      cameras: ['cam-a'],
    });
    assert.equal(created.status, 201);
    viewer = await signIn(c.masterUrl, 'viewer.a', 'viewer-a-password-1');
  });

  const refusals = (reason: string) =>
    c.gatewayMetric('cctv_gateway_grant_refusals_total', `reason="${reason}"`);
  const renditions = async () =>
    (
      await Promise.all(
        ['transcoded', 'cache_hit', 'busy', 'failed'].map((r) =>
          c.gatewayMetric('cctv_gateway_renditions_total', `result="${r}"`),
        ),
      )
    ).reduce((a, b) => a + b, 0);
  const grantFor = async (session: ApiSession, camera: string, from: Date, to: Date) => {
    const res = await session.postJson(`/api/cameras/${camera}/playback`, {
      from: from.toISOString(),
      to: to.toISOString(),
    });
    if (res.status !== 200) assert.fail(`playback refused: ${res.status} ${await res.text()}`);
    return (await res.json()) as PlaybackGrant;
  };

  it('answers 401 to every read without a grant, with no wildcard CORS and nothing cacheable', async () => {
    const before = await refusals('grant_required');
    const range = `from=${at(0).toISOString()}&to=${at(10).toISOString()}`;
    const paths = [
      `/v1/vod/cam-a.m3u8?${range}`,
      `/v1/vod/cam-a/h264.m3u8?${range}`,
      '/v1/live/cam-a.m3u8',
      '/v1/live/cam-a/h264.m3u8',
      `/v1/segments/cam-a/${segName(0)}`,
      '/v1/segments/cam-a/init-cam-a.mp4',
      `/v1/renditions/h264/cam-a/${segName(0).replace('.m4s', '.ts')}`,
      `/v1/snapshots/cam-a/${eventId}-1.jpg`,
    ];
    for (const path of paths) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${c.gatewayUrl}${path}`, {
          method,
          headers: { origin: 'http://evil.example' },
        });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(res.headers.get('access-control-allow-origin'), null, path);
        assert.doesNotMatch(res.headers.get('cache-control') ?? '', /public/, path);
        if (method === 'GET')
          assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'grant_required');
      }
    }
    assert.equal(await refusals('grant_required'), before + paths.length * 2);
  });

  it('takes no transcode slot for anonymous or forged rendition requests (40 at once)', async () => {
    const before = await renditions();
    const name = segName(2).replace('.m4s', '.ts');
    const forged = `${'x'.repeat(40)}.${'y'.repeat(120)}.${'z'.repeat(86)}`;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(
          i % 2 === 0
            ? `${c.gatewayUrl}/v1/renditions/h264/cam-a/${name}`
            : `${c.gatewayUrl}/v1/g/${forged}/renditions/h264/cam-a/${name}`,
        ).then((r) => r.status),
      ),
    );
    assert.deepEqual([...new Set(answers)], [401]);
    assert.equal(await renditions(), before, 'no rendition was made, served or queued');
  });

  it('plays a viewer’s granted range: playlist, init, segments, rendition; private; CORS only for the dashboard', async () => {
    const grant = await grantFor(viewer, 'cam-a', at(0), at(3));
    const playlist = await fetch(grant.playlistUrl, {
      headers: { origin: dashboardOrigin(c.dashboardPort) },
    });
    assert.equal(playlist.status, 200);
    assert.equal(playlist.headers.get('access-control-allow-origin'), dashboardOrigin(c.dashboardPort));
    assert.match(playlist.headers.get('cache-control') ?? '', /^private/);
    const text = await playlist.text();
    const uris = text.split('\n').filter((l) => l.endsWith('.m4s'));
    assert.equal(uris.length, 3);
    const init = /URI="([^"]+)"/.exec(text)?.[1] ?? '';
    for (const uri of [init, ...uris]) {
      const res = await fetch(new URL(uri, grant.playlistUrl));
      assert.equal(res.status, 200, uri);
      assert.match(res.headers.get('cache-control') ?? '', /^private, max-age=\d+$/);
    }
    const h264 = await (await fetch(grant.h264PlaylistUrl)).text();
    const ts = h264.split('\n').find((l) => l.endsWith('.ts')) ?? '';
    const rendition = await fetch(new URL(ts, grant.h264PlaylistUrl));
    assert.equal(rendition.status, 200);
    assert.equal(rendition.headers.get('content-type'), 'video/mp2t');
    const evil = await fetch(grant.playlistUrl, { headers: { origin: 'http://evil.example' } });
    assert.equal(evil.status, 200, 'a grant holder may read (with a script, VLC), but no other web page can');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  it('refuses the grant for another camera, another range, another scope; an altered one; an expired one', async () => {
    const grant = await grantFor(viewer, 'cam-a', at(1), at(2));
    const token = grantOf(grant.playlistUrl) ?? '';
    const [wrongCamera, outside, bad, expired] = (await Promise.all(
      ['wrong_camera', 'outside_grant', 'bad_grant', 'grant_expired'].map(refusals),
    )) as [number, number, number, number];
    const gw = (path: string) => fetch(`${c.gatewayUrl}${path}`);
    // Another camera, the same grant.
    assert.equal((await gw(grantedPaths.vod(token, 'cam-b'))).status, 403);
    assert.equal((await gw(grantedPaths.segment(token, 'cam-b', 'cam-b-1.m4s'))).status, 403);
    // The playlist lists only the range; a segment outside it is refused.
    const text = await (await fetch(grant.playlistUrl)).text();
    assert.deepEqual(
      text
        .split('\n')
        .filter((l) => l.endsWith('.m4s'))
        .map((l) => l.split('/').pop()),
      [segName(1)],
    );
    assert.equal((await gw(grantedPaths.segment(token, 'cam-a', segName(0)))).status, 403);
    assert.equal(
      (await gw(`/v1/g/${token}/renditions/h264/cam-a/${segName(2).replace('.m4s', '.ts')}`)).status,
      403,
    );
    const wider = `from=${at(0).toISOString()}&to=${at(3).toISOString()}`;
    assert.equal((await gw(`${grantedPaths.vod(token, 'cam-a')}?${wider}`)).status, 403);
    // A VOD grant opens no live playlist and no snapshot.
    assert.equal((await gw(grantedPaths.live(token, 'cam-a'))).status, 403);
    assert.equal((await gw(grantedPaths.snapshot(token, 'cam-a', `${eventId}-1.jpg`))).status, 403);
    // Altered: one character of the payload, one of the signature.
    const [h, p, s] = token.split('.') as [string, string, string];
    const flip = (x: string, i: number) => `${x.slice(0, i)}${x[i] === 'A' ? 'B' : 'A'}${x.slice(i + 1)}`;
    for (const forged of [`${h}.${flip(p, 10)}.${s}`, `${h}.${p}.${flip(s, 5)}`, `${h}.${p}.`]) {
      const res = await fetch(withGrant(grant.playlistUrl, forged));
      assert.equal(res.status, 401, forged);
    }
    assert.equal(await refusals('wrong_camera'), wrongCamera + 2);
    assert.ok((await refusals('outside_grant')) >= outside + 3);
    assert.equal(await refusals('bad_grant'), bad + 3);
    // Expired: the grant works for TTL_S seconds, then never again.
    await new Promise((r) => setTimeout(r, TTL_S * 1000 + 1500));
    const late = await fetch(grant.playlistUrl);
    assert.equal(late.status, 401);
    assert.equal(((await late.json()) as { error: { code: string } }).error.code, 'grant_expired');
    assert.equal(await refusals('grant_expired'), expired + 1);
  });

  it('gives a viewer no grant for a camera outside their access list', async () => {
    const res = await viewer.postJson('/api/cameras/cam-b/playback', {
      from: at(0).toISOString(),
      to: at(3).toISOString(),
    });
    assert.equal(res.status, 403);
    assert.equal((await viewer.postJson('/api/cameras/cam-b/live', {})).status, 403);
  });

  it('serves an event snapshot only under the snapshot grant of the event view', async () => {
    const view = await viewer.getJson<EventView>(`/api/events/${eventId}`);
    const image = view.snapshot?.imageUrl ?? '';
    const res = await fetch(image);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.match(res.headers.get('cache-control') ?? '', /^private/);
    assert.equal((await fetch(view.snapshot?.thumbnailUrl ?? '')).status, 200);
    const token = grantOf(image) ?? '';
    // The same grant for the other camera's files, or a segment: refused.
    assert.equal(
      (await fetch(`${c.gatewayUrl}${grantedPaths.segment(token, 'cam-a', segName(1))}`)).status,
      403,
    );
    assert.equal(
      (await fetch(`${c.gatewayUrl}${grantedPaths.snapshot(token, 'cam-b', `${eventId}-1.jpg`)}`)).status,
      403,
    );
  });

  it('makes exports through a grant of the operator’s own', async () => {
    const created = await c.admin.postJson('/api/users', {
      username: 'operator.a',
      password: 'operator-a-password-1',
      role: 'operator',
      cameras: ['cam-a'],
    });
    assert.equal(created.status, 201);
    const operator = await signIn(c.masterUrl, 'operator.a', 'operator-a-password-1');
    const asked = await operator.postJson('/api/exports', {
      cameraId: 'cam-a',
      from: at(0).toISOString(),
      to: at(3).toISOString(),
    });
    assert.equal(asked.status, 202);
    const job = (await asked.json()) as ExportJobView;
    const done = await waitFor(
      'export done',
      async () => {
        const j = await operator.getJson<ExportJobView>(`/api/exports/${job.id}`);
        return j.state === 'done' || j.state === 'failed' ? j : null;
      },
      60_000,
      500,
    );
    assert.equal(done.state, 'done', done.error ?? '');
    assert.ok((await c.gatewayMetric('cctv_gateway_granted_reads_total')) > 0);
  });
});
