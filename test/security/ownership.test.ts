/**
 * Attacks of a stolen (or misconfigured) node against other nodes' cameras, replayed against
 * the real master and gateway: claiming a camera in its hello, forging events (for another
 * node's camera, for no camera, reusing another node's event id, pointing a snapshot anywhere),
 * uploading segments and snapshots for another node's camera. Each is refused, counted, raised
 * as a security alert, and nothing stored changes. Then an admin moves a camera, the only way
 * ownership changes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { type CameraView, grantedPaths, type LiveViewGrant, type SecurityAlertView } from '@cctv/protocol';
import { testGrant } from '../support/grants.ts';
import { waitFor } from '../support/index.ts';
import { signIn } from '../support/session.ts';
import {
  eventOf,
  type Footage,
  makeFootage,
  makeJpeg,
  type SecurityCluster,
  startSecurityCluster,
  type TestNode,
} from './support/cluster.ts';

const rejected = (kind: string, reason: string) => `kind="${kind}",reason="${reason}"`;

describe('ownership: a node acts only on its own cameras', () => {
  let c: SecurityCluster;
  let real: TestNode;
  let thief: TestNode;
  let footage: Footage;
  let jpeg: Buffer;
  const t0 = new Date(Date.now() - 60_000);

  before(async () => {
    [c, footage, jpeg] = await Promise.all([startSecurityCluster(), makeFootage(), makeJpeg()]);
    real = await c.node('real-node');
    thief = await c.node('thief-node');
    await real.hello(['door-cam']);
    await c.owned('door-cam', 'real-node');
    await thief.hello(['thief-cam']);
    await c.owned('thief-cam', 'thief-node');
  });

  const alertOf = async (kind: string, nodeId: string, cameraId: string): Promise<SecurityAlertView> =>
    waitFor(`${kind} alert for ${nodeId}/${cameraId}`, async () =>
      (await c.alerts()).find((a) => a.kind === kind && a.nodeId === nodeId && a.cameraId === cameraId),
    );

  it('refuses a hello that claims another node’s camera: owner, live view and events stay with the owner', async () => {
    const ws = c.admin.socket();
    const pushed: SecurityAlertView[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; alert?: SecurityAlertView };
      if (m.type === 'security' && m.alert) pushed.push(m.alert);
    });
    await new Promise((r) => ws.once('open', r));
    const before = await c.masterMetric(
      'cctv_mqtt_messages_rejected_total',
      rejected('hello', 'camera_owned'),
    );
    const row = await c.db.camera.findUniqueOrThrow({ where: { id: 'door-cam' } });

    await thief.hello(['thief-cam', 'door-cam', 'thief-cam-2']);
    await c.owned('thief-cam-2', 'thief-node'); // the rest of the hello is applied
    await waitFor(
      'claim counted',
      async () =>
        (await c.masterMetric('cctv_mqtt_messages_rejected_total', rejected('hello', 'camera_owned'))) ===
        before + 1,
    );
    const after = await c.db.camera.findUniqueOrThrow({ where: { id: 'door-cam' } });
    assert.equal(after.nodeId, 'real-node');
    assert.deepEqual({ ...after, updatedAt: null }, { ...row, updatedAt: null });

    const alert = await alertOf('camera_claim', 'thief-node', 'door-cam');
    assert.match(alert.message, /belongs to node real-node/);
    await waitFor('alert pushed to the admin dashboard', () =>
      pushed.find((a) => a.kind === 'camera_claim' && a.cameraId === 'door-cam'),
    );
    ws.close();

    // A live view of the camera is the real node's, never the claimant's.
    const live = (await (await c.admin.postJson('/api/cameras/door-cam/live', {})).json()) as LiveViewGrant;
    assert.equal(live.nodeId, 'real-node');
    const cameras = await c.admin.getJson<CameraView[]>('/api/cameras');
    assert.equal(cameras.find((x) => x.id === 'door-cam')?.nodeId, 'real-node');
    // The real node's events for it are still taken.
    const id = randomUUID();
    await real.event(eventOf(id, 'door-cam'));
    await waitFor('real event stored', async () => (await c.admin.fetch(`/api/events/${id}`)).ok);
  });

  it('refuses forged events: another node’s camera, an unregistered camera, another node’s event id, a free snapshot URL', async () => {
    const owned = randomUUID();
    await real.event(eventOf(owned, 'door-cam', t0, { score: 0.6 }));
    await waitFor('owned event stored', async () => (await c.db.event.count({ where: { id: owned } })) === 1);
    const original = await c.db.event.findUniqueOrThrow({ where: { id: owned } });
    const count = (reason: string) =>
      c.masterMetric('cctv_mqtt_messages_rejected_total', rejected('events', reason));
    const [mismatch, unknown, stolenId, invalid, badSnapshot] = (await Promise.all(
      ['camera_mismatch', 'unknown_camera', 'event_owned', 'invalid_payload', 'bad_snapshot'].map(count),
    )) as [number, number, number, number, number];

    const foreign = randomUUID();
    const nowhere = randomUUID();
    await thief.event(eventOf(foreign, 'door-cam'));
    await thief.event(eventOf(nowhere, 'no-such-cam'));
    // The same id as the real node's event, a higher seq, on the thief's own camera.
    await thief.event(
      eventOf(owned, 'thief-cam', t0, { seq: 9, phase: 'end', score: 1, endedAt: t0.toISOString() }),
    );
    const snap = { at: t0.toISOString(), width: 64, height: 36, blurred: false };
    const freeUrl = randomUUID();
    await thief.event(
      eventOf(freeUrl, 'thief-cam', t0, {
        snapshot: { ...snap, image: 'https://evil.example/x.jpg', thumbnail: 'https://evil.example/y.jpg' },
      }),
    );
    const otherPicture = randomUUID();
    await thief.event(
      eventOf(otherPicture, 'thief-cam', t0, {
        snapshot: {
          ...snap,
          image: `/v1/snapshots/door-cam/${owned}-1.jpg`,
          thumbnail: `/v1/snapshots/door-cam/${owned}-1-thumb.jpg`,
        },
      }),
    );
    const otherEvent = randomUUID();
    await thief.event(
      eventOf(otherEvent, 'thief-cam', t0, {
        snapshot: {
          ...snap,
          image: `/v1/snapshots/thief-cam/${owned}-1.jpg`,
          thumbnail: `/v1/snapshots/thief-cam/${owned}-1-thumb.jpg`,
        },
      }),
    );

    // An unregistered camera is given a few seconds (the hello may be on its way), then refused.
    await waitFor(
      'every forged event refused and counted',
      async () =>
        (await count('camera_mismatch')) === mismatch + 1 &&
        (await count('unknown_camera')) === unknown + 1 &&
        (await count('event_owned')) === stolenId + 1 &&
        (await count('invalid_payload')) === invalid + 1 &&
        (await count('bad_snapshot')) === badSnapshot + 2,
      20_000,
    );
    for (const id of [foreign, nowhere, freeUrl, otherPicture, otherEvent])
      assert.equal(await c.db.event.count({ where: { id } }), 0, `event ${id} not stored`);
    assert.deepEqual(await c.db.event.findUniqueOrThrow({ where: { id: owned } }), original);
    await alertOf('foreign_event', 'thief-node', 'door-cam');
    await alertOf('foreign_event', 'thief-node', 'no-such-cam');
    const stolen = await alertOf('foreign_event', 'thief-node', 'thief-cam');
    assert.match(stolen.message, /real-node/);
  });

  it('refuses segments and snapshots uploaded for another node’s camera: nothing indexed, nothing in its playlist', async () => {
    // The owner records a segment first.
    const own = await real.putSegment(
      'door-cam',
      'door-000001.m4s',
      footage.segments[0] as Buffer,
      t0,
      footage.init,
    );
    assert.equal(own.status, 201, await own.text());
    const refusedBefore = await c.gatewayMetric('cctv_gateway_segments_rejected_total', 'reason="not_owner"');
    const foreignBefore = await c.gatewayMetric('cctv_gateway_foreign_uploads_total', 'kind="segment"');
    // The rows as indexed (their location moves to the NAS on its own meanwhile).
    const indexed = () =>
      c.db.segment.findMany({
        where: { cameraId: 'door-cam' },
        orderBy: { name: 'asc' },
        select: { name: true, nodeId: true, sha256: true, bytes: true, startAt: true, initName: true },
      });
    const rows = await indexed();

    const forged = Buffer.from('random bytes, not a segment');
    const seg = await thief.putSegment('door-cam', 'door-000002.m4s', forged, new Date(t0.getTime() + 2000));
    assert.equal(seg.status, 403);
    assert.equal(((await seg.json()) as { error: { code: string } }).error.code, 'not_owner');
    const same = await thief.putSegment('door-cam', 'door-000001.m4s', forged, t0);
    assert.equal(same.status, 403, 'not even a conflict answer that would tell what is stored');
    const init = await thief.putSegment('door-cam', 'door-000003.m4s', forged, t0, footage.init);
    assert.equal(init.status, 403);
    const snap = await thief.putSnapshot('door-cam', `${randomUUID()}-1.jpg`, jpeg);
    assert.equal(snap.status, 403);
    const nobody = await thief.putSegment('nobodys-cam', 'x-000001.m4s', forged, t0);
    assert.equal(nobody.status, 403, 'a camera no node registered is no node’s to upload for');

    // Five segment uploads (the init file of the third among them) and one snapshot.
    assert.equal(
      await c.gatewayMetric('cctv_gateway_segments_rejected_total', 'reason="not_owner"'),
      refusedBefore + 5,
    );
    assert.equal(
      await c.gatewayMetric('cctv_gateway_foreign_uploads_total', 'kind="segment"'),
      foreignBefore + 5,
    );
    assert.equal(await c.gatewayMetric('cctv_gateway_foreign_uploads_total', 'kind="snapshot"'), 1);
    assert.deepEqual(await indexed(), rows);
    assert.equal(await c.db.segment.count({ where: { cameraId: 'nobodys-cam' } }), 0);

    // The camera's playlist lists the owner's segment only.
    const grant = await testGrant(c.databaseUrl, { camera: 'door-cam', scope: 'vod' });
    const playlist = await (await fetch(`${c.gatewayUrl}${grantedPaths.vod(grant, 'door-cam')}`)).text();
    assert.match(playlist, /door-000001\.m4s/);
    assert.doesNotMatch(playlist, /door-00000[23]/);
    const alert = await alertOf('foreign_upload', 'thief-node', 'door-cam');
    assert.equal(alert.source, 'gateway');
    assert.ok(alert.count >= 5, `repeats counted on one alert: ${alert.count}`);
  });

  it('lets only an admin move a camera: audited, the old owner told, uploads and events follow the move', async () => {
    const viewer = await c.admin.postJson('/api/users', {
      username: 'viewer.move',
      password: 'viewer-move-pass-1',
      role: 'operator',
      cameras: 'all',
    });
    assert.equal(viewer.status, 201);
    const operator = await signIn(c.masterUrl, 'viewer.move', 'viewer-move-pass-1');
    const put = (s: typeof operator, body: unknown) =>
      s.fetch('/api/cameras/door-cam/node', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal(
      (await put(operator, { nodeId: 'thief-node' })).status,
      403,
      'operators do not move cameras',
    );
    assert.equal((await put(c.admin, { nodeId: 'no-such-node' })).status, 404);
    assert.equal((await put(c.admin, { nodeId: 'Bad Node' })).status, 400);
    assert.equal((await c.db.camera.findUniqueOrThrow({ where: { id: 'door-cam' } })).nodeId, 'real-node');

    const moved = await put(c.admin, { nodeId: 'thief-node' });
    assert.equal(moved.status, 200);
    assert.deepEqual(await moved.json(), { cameraId: 'door-cam', nodeId: 'thief-node', from: 'real-node' });
    assert.equal((await c.db.camera.findUniqueOrThrow({ where: { id: 'door-cam' } })).nodeId, 'thief-node');
    const audit = await c.admin.getJson<{ entries: { action: string; detail: unknown; cameraId: string }[] }>(
      '/api/audit?action=camera_move',
    );
    assert.deepEqual(audit.entries[0]?.detail, { from: 'real-node', to: 'thief-node' });
    const told = await waitFor('old owner told', () => real.commands.find((x) => x.name === 'camera-moved'));
    assert.deepEqual(told.request.args, { camera: 'door-cam', nodeId: 'thief-node', by: 'admin' });

    // Within the gateway's cache period the new owner's uploads are taken, the old one's refused.
    await waitFor(
      'new owner uploads',
      async () =>
        (
          await thief.putSegment(
            'door-cam',
            'door-000010.m4s',
            footage.segments[1] as Buffer,
            t0,
            footage.init,
          )
        ).status < 300,
      15_000,
      500,
    );
    assert.equal(
      (await real.putSegment('door-cam', 'door-000011.m4s', footage.segments[2] as Buffer, t0)).status,
      403,
    );
    const id = randomUUID();
    await thief.event(eventOf(id, 'door-cam'));
    await waitFor(
      'the new owner’s event stored',
      async () => (await c.db.event.count({ where: { id } })) === 1,
    );
  });
});
