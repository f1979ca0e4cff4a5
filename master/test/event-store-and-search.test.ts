import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { PrismaClient } from '@cctv/db';
import { type EventPage, type EventView, grantOf, type TimelineView } from '@cctv/protocol';
import { decodeJwt } from 'jose';
import { waitFor } from '../../test/support/index.ts';
import { type EventHarness, event, iso, startEventHarness } from './event-harness.ts';

const GATEWAY = 'https://gw.example:8443';

describe('master event store, search and timeline', () => {
  let h: EventHarness;
  let db: PrismaClient;
  const getJson = <T>(path: string) => h.getJson<T>(path);
  const metric = (prefix: string) => h.metric(prefix);
  const publish: EventHarness['publish'] = (nodeId, msgs) => h.publish(nodeId, msgs);
  const ingested = (phase: string) => metric(`cctv_events_ingested_total{type="motion",phase="${phase}"}`);

  before(async () => {
    h = await startEventHarness(`${GATEWAY}/`);
    db = h.db;
  });

  it('stores a re-sent event once with the fields of its end and pushes it to dashboards', async () => {
    const ws = h.session.socket();
    const pushed: EventView[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { type: string; event?: EventView };
      if (m.type === 'event' && m.event) pushed.push(m.event);
    });
    await new Promise((r) => ws.once('open', r));

    const id = randomUUID();
    const base = { id, cameraId: 'n1-cam1' };
    const start = event(base);
    const update = event({ ...base, seq: 1, phase: 'update', at: '2026-02-01T10:00:02.000Z', score: 0.5 });
    const end = event({
      ...base,
      seq: 2,
      phase: 'end',
      at: '2026-02-01T10:00:05.000Z',
      endedAt: '2026-02-01T10:00:05.000Z',
      score: 0.7,
      bestAt: '2026-02-01T10:00:03.000Z',
      boxes: [{ x: 0.5, y: 0.5, w: 0.1, h: 0.1 }],
      zones: ['door'],
      frames: 25,
      snapshot: {
        image: `/v1/snapshots/n1-cam1/${id}-1.jpg`,
        thumbnail: `/v1/snapshots/n1-cam1/${id}-1-thumb.jpg`,
        at: '2026-02-01T10:00:03.000Z',
        width: 1280,
        height: 720,
        blurred: false,
      },
    });
    const endsBefore = await ingested('end');
    await publish('n1', [start, start, update, start, update, end, end]);
    await waitFor('both ends written', async () => (await ingested('end')) === endsBefore + 2);

    const stored = await getJson<EventView>(`/api/events/${id}`);
    assert.equal(stored.lastSeq, 2);
    assert.equal(stored.endedAt, '2026-02-01T10:00:05.000Z');
    assert.equal(stored.lastAt, '2026-02-01T10:00:05.000Z');
    assert.equal(stored.score, 0.7);
    assert.equal(stored.frames, 25);
    assert.deepEqual(stored.zones, ['door']);
    assert.deepEqual(stored.boxes, end.boxes);
    assert.equal(stored.nodeId, 'n1');
    // Snapshot links carry a grant for this user, this camera and the hour the event started.
    const grant = grantOf(stored.snapshot?.imageUrl ?? '') ?? '';
    assert.equal(stored.snapshot?.imageUrl, `${GATEWAY}/v1/g/${grant}/snapshots/n1-cam1/${id}-1.jpg`);
    assert.equal(
      stored.snapshot?.thumbnailUrl,
      `${GATEWAY}/v1/g/${grant}/snapshots/n1-cam1/${id}-1-thumb.jpg`,
    );
    const claims = decodeJwt(grant);
    const hour = Date.parse('2026-02-01T10:00:00.000Z');
    assert.deepEqual([claims.cam, claims.scp, claims.rng], ['n1-cam1', 'snapshot', [hour, hour + 3600_000]]);
    assert.equal(await db.event.count({ where: { id } }), 1);

    // A late re-delivery of the start changes nothing.
    const startsBefore = await ingested('start');
    await publish('n1', [start]);
    await waitFor('late start written', async () => (await ingested('start')) === startsBefore + 1);
    assert.deepEqual(await getJson<EventView>(`/api/events/${id}`), stored);

    await waitFor('end pushed on the websocket', () => pushed.find((e) => e.id === id && e.lastSeq === 2));
    ws.close();
  });

  it('keeps the end when it arrives before the start', async () => {
    const id = randomUUID();
    const end = event({ id, cameraId: 'n1-cam1', seq: 2, phase: 'end', score: 0.9, frames: 40 });
    const startsBefore = await ingested('start');
    await publish('n1', [{ ...end, endedAt: '2026-02-01T10:00:09.000Z' }]);
    await waitFor('end stored', async () => (await h.fetch(`/api/events/${id}`)).status === 200);
    await publish('n1', [event({ id, cameraId: 'n1-cam1' })]);
    await waitFor('start written', async () => (await ingested('start')) === startsBefore + 1);
    const stored = await getJson<EventView>(`/api/events/${id}`);
    assert.equal(stored.lastSeq, 2);
    assert.equal(stored.score, 0.9);
    assert.equal(stored.frames, 40);
    assert.equal(stored.endedAt, '2026-02-01T10:00:09.000Z');
  });

  it('pages through search results without duplicates or skips while newer events arrive', async () => {
    const t0 = Date.UTC(2026, 2, 1);
    // Three events per second share a start time, so the id breaks ties.
    const originals = Array.from({ length: 1000 }, (_, i) =>
      event({ id: randomUUID(), cameraId: 'n2-cam1', startedAt: iso(t0 + Math.floor(i / 3) * 1000) }),
    );
    await publish('n2', originals);
    await waitFor(
      '1000 stored',
      async () => (await db.event.count({ where: { cameraId: 'n2-cam1' } })) === 1000,
    );

    const newer = Array.from({ length: 500 }, (_, i) =>
      event({ id: randomUUID(), cameraId: 'n2-cam1', startedAt: iso(t0 + 86_400_000 + i * 1000) }),
    );
    const seen: string[] = [];
    let page = await getJson<EventPage>('/api/events?cameras=n2-cam1&limit=37');
    const writer = publish('n2', newer);
    await waitFor(
      'newer events arriving',
      async () => (await db.event.count({ where: { cameraId: 'n2-cam1' } })) > 1000,
    );
    for (;;) {
      seen.push(...page.events.map((e) => e.id));
      assert.ok(page.events.length <= 37);
      if (!page.nextCursor) break;
      page = await getJson<EventPage>(`/api/events?cameras=n2-cam1&limit=37&cursor=${page.nextCursor}`);
    }
    await writer;
    const expected = originals
      .map((e) => ({ id: e.id, at: e.startedAt }))
      .sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1))
      .map((e) => e.id);
    assert.equal(seen.length, 1000);
    assert.deepEqual(seen, expected);
    await waitFor(
      'newer stored',
      async () => (await db.event.count({ where: { cameraId: 'n2-cam1' } })) === 1500,
    );
  });

  it('filters by camera, type, time range, score and zone, and refuses bad query strings with clear, counted errors', async () => {
    const at = (h: number) => `2026-05-01T0${h}:00:00.000Z`;
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const [e1, e2, e3, e4, e5] = ids as [string, string, string, string, string];
    await publish('n3', [
      event({ id: e1, cameraId: 'f-cam1', type: 'motion', score: 0.2, startedAt: at(0) }),
      event({ id: e2, cameraId: 'f-cam1', type: 'face', score: 0.9, startedAt: at(1) }),
      event({
        id: e3,
        cameraId: 'f-cam2',
        type: 'motion',
        score: 0.6,
        startedAt: at(2),
        zones: ['porch', 'drive way'],
      }),
      event({ id: e4, cameraId: 'f-cam2', type: 'face', score: 0.5, startedAt: at(3) }),
      event({ id: e5, cameraId: 'f-cam3', type: 'motion', score: 0.95, startedAt: at(4), zones: ['gate'] }),
    ]);
    const all = 'cameras=f-cam1,f-cam2,f-cam3';
    const found = async (q: string) => (await getJson<EventPage>(`/api/events?${q}`)).events.map((e) => e.id);
    await waitFor('filter events stored', async () => (await found(all)).length === 5);

    assert.deepEqual(await found('cameras=f-cam1,f-cam2'), [e4, e3, e2, e1]);
    assert.deepEqual(await found(`${all}&types=face`), [e4, e2]);
    assert.deepEqual(await found(`${all}&from=${at(1)}&to=${at(3)}`), [e3, e2]);
    assert.deepEqual(await found(`${all}&from=2026-05-01T05:00:00%2B02:00`), [e5, e4]);
    assert.deepEqual(await found(`${all}&minScore=0.5`), [e5, e4, e3, e2]);
    assert.deepEqual(await found('cameras=f-cam2,f-cam3&types=motion&minScore=0.7'), [e5]);
    assert.deepEqual(await found(`${all}&zones=porch`), [e3]);
    assert.deepEqual(await found(`${all}&zones=gate,drive%20way`), [e5, e3]);
    assert.deepEqual(await found(`${all}&zones=garden`), []);
    const first = await getJson<EventPage>(`/api/events?${all}&limit=2`);
    assert.deepEqual(
      first.events.map((e) => e.id),
      [e5, e4],
    );
    assert.deepEqual(await found(`${all}&limit=2&cursor=${first.nextCursor}`), [e3, e2]);

    const bad: [string, string, RegExp][] = [
      ['limit=0', 'BAD_QUERY', /limit must be an integer from 1 to 500/],
      ['limit=501', 'BAD_QUERY', /limit/],
      ['limit=ten', 'BAD_QUERY', /limit/],
      ['from=yesterday', 'BAD_QUERY', /from must be an ISO-8601 time/],
      ['to=2026-05-01T00:00:00', 'BAD_QUERY', /to must be an ISO-8601 time/],
      ['types=motion,car', 'BAD_QUERY', /types .*motion, face/],
      ['cameras=Bad_Cam', 'BAD_QUERY', /cameras/],
      ['minScore=2', 'BAD_QUERY', /minScore/],
      ['zones=a,,b', 'BAD_QUERY', /zones must be a comma-separated list of zone names/],
      ['cursor=***', 'BAD_QUERY', /cursor/],
      ['cursor=bm9wZQ', 'BAD_CURSOR', /cursor must be the nextCursor/],
      [`from=${at(3)}&to=${at(1)}`, 'BAD_RANGE', /from must be earlier than to/],
    ];
    const countedBefore = await metric('cctv_http_bad_requests_total{');
    for (const [q, code, message] of bad) {
      const res = await h.fetch(`/api/events?${q}`);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 400, q);
      assert.equal(body.error.code, code, q);
      assert.match(body.error.message, message, q);
    }
    assert.equal(await metric('cctv_http_bad_requests_total{'), countedBefore + bad.length);
    assert.equal((await h.fetch('/api/events/not-a-uuid')).status, 400);
    const unknown = await h.fetch(`/api/events/${randomUUID()}`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'UNKNOWN_EVENT');
  });

  it('builds a timeline from segments and events, bucketed for long ranges', async () => {
    const t = Date.UTC(2026, 3, 1, 10);
    const seg = (i: number, startMs: number, durationMs: number) => ({
      cameraId: 't-cam',
      nodeId: 'n4',
      name: `seg-${i}.m4s`,
      initName: 'init.mp4',
      startAt: new Date(t + startMs),
      durationMs,
      bytes: 1000,
      codec: 'hvc1',
      sha256: '0'.repeat(64),
    });
    // 0–40 s contiguous, 40.5–44.5 (0.5 s gap: same span), 50–70 (5.5 s gap: new span), 71.5–75 (1.5 s gap: new)
    const rows = Array.from({ length: 10 }, (_, i) => seg(i, i * 4000, 4000));
    rows.push(
      seg(10, 40_500, 4000),
      ...Array.from({ length: 5 }, (_, i) => seg(11 + i, 50_000 + i * 4000, 4000)),
    );
    rows.push(seg(16, 71_500, 3500), seg(17, 3600_000 * 30, 4000));
    await db.segment.createMany({ data: rows });

    const evs = Array.from({ length: 12 }, (_, i) =>
      event({
        id: randomUUID(),
        cameraId: 't-cam',
        type: i % 3 === 0 ? 'face' : 'motion',
        score: (i + 1) / 20,
        startedAt: iso(t + i * 5000),
      }),
    );
    await publish('n4', evs);
    await waitFor(
      'timeline events stored',
      async () => (await db.event.count({ where: { cameraId: 't-cam' } })) === 12,
    );

    const range = `from=${iso(t + 2000)}&to=${iso(t + 300_000)}`;
    const tl = await getJson<TimelineView>(`/api/cameras/t-cam/timeline?${range}`);
    assert.deepEqual(tl.spans, [
      { start: iso(t + 2000), end: iso(t + 44_500) },
      { start: iso(t + 50_000), end: iso(t + 70_000) },
      { start: iso(t + 71_500), end: iso(t + 75_000) },
    ]);
    assert.equal(tl.buckets, null);
    assert.deepEqual(
      tl.events?.map((e) => e.id),
      evs.slice(1).map((e) => e.id),
      'events started in the range, oldest first',
    );

    const long = await getJson<TimelineView>(
      `/api/cameras/t-cam/timeline?from=${iso(t)}&to=${iso(t + 60_000)}&buckets=4`,
    );
    assert.equal(long.events, null);
    assert.deepEqual(long.buckets, [
      { start: iso(t), end: iso(t + 15_000), motion: 2, face: 1, maxScore: 0.15 },
      { start: iso(t + 15_000), end: iso(t + 30_000), motion: 2, face: 1, maxScore: 0.3 },
      { start: iso(t + 30_000), end: iso(t + 45_000), motion: 2, face: 1, maxScore: 0.45 },
      { start: iso(t + 45_000), end: iso(t + 60_000), motion: 2, face: 1, maxScore: 0.6 },
    ]);

    const tooLong = await h.fetch(
      `/api/cameras/t-cam/timeline?from=${iso(t)}&to=${iso(t + 32 * 86_400_000)}`,
    );
    assert.equal(tooLong.status, 400);
    assert.match(((await tooLong.json()) as { error: { message: string } }).error.message, /31 days/);
    assert.equal((await h.fetch(`/api/cameras/t-cam/timeline?from=${iso(t)}`)).status, 400);
    assert.equal((await h.fetch(`/api/cameras/T_CAM/timeline?${range}`)).status, 400);
  });

  it('rejects malformed payloads and events for another node’s camera, counts them, and keeps running', async () => {
    await db.node.create({ data: { id: 'n5', cameras: { create: { id: 'n5-cam1', name: 'Yard' } } } });
    const invalidBefore = await metric(
      'cctv_mqtt_messages_rejected_total{kind="events",reason="invalid_payload"}',
    );
    const mismatchBefore = await metric(
      'cctv_mqtt_messages_rejected_total{kind="events",reason="camera_mismatch"}',
    );
    const foreign = randomUUID();
    await publish('n6', [
      '{"id":',
      JSON.stringify({ ...event({ id: randomUUID(), cameraId: 'n6-cam1' }), score: 7 }),
      event({ id: foreign, cameraId: 'n5-cam1' }),
    ]);
    await waitFor('rejections counted', async () => {
      const invalid = await metric(
        'cctv_mqtt_messages_rejected_total{kind="events",reason="invalid_payload"}',
      );
      const mismatch = await metric(
        'cctv_mqtt_messages_rejected_total{kind="events",reason="camera_mismatch"}',
      );
      return invalid === invalidBefore + 2 && mismatch === mismatchBefore + 1;
    });
    assert.equal((await h.fetch(`/api/events/${foreign}`)).status, 404);

    const own = randomUUID();
    await publish('n6', [event({ id: own, cameraId: 'n6-cam1' })]);
    await waitFor('valid event after bad ones', async () => (await h.fetch(`/api/events/${own}`)).ok);
    assert.equal((await h.fetch('/healthz')).status, 200);
  });
});
