/**
 * Property-based fuzzing of what an authenticated node can send, against the real master and
 * gateway: every MQTT payload kind (status, hello, heartbeat, events, command replies), and the
 * gateway's upload names and headers. Whatever arrives: nothing crashes, no 500, and every
 * message is either taken or its refusal counted (the counters add up to what was sent).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:https';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { isSnapshotName, isValidId, SEGMENT_HEADERS, segmentKind, topics } from '@cctv/protocol';
import fc from 'fast-check';
import {
  eventOf,
  helloOf,
  type SecurityCluster,
  sha256,
  startSecurityCluster,
  type TestNode,
} from './support/cluster.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

type Kind = 'status' | 'hello' | 'heartbeat' | 'events' | 'reply';

/** Sets `path` (dot-separated, numbers index arrays) in a copy of `base`. */
function mutate(base: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    if (typeof next !== 'object' || next === null) return copy;
    at = next as Record<string, unknown>;
  }
  const last = keys.at(-1) as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

function heartbeatOf(camera: string): unknown {
  return {
    seq: 1,
    at: new Date().toISOString(),
    uptimeS: 10,
    cpu: { percent: 3, load1: 0.1 },
    mem: { rssBytes: 1e8, totalBytes: 2e9, freeBytes: 1e9 },
    tempC: 40,
    disk: { spoolFreeBytes: 1e9, spoolUsedBytes: 1e6 },
    cameras: [
      {
        id: camera,
        state: 'recording',
        fps: 10,
        bitrateKbps: 100,
        lastSegmentAt: null,
        segmentsRecorded: 1,
        backlogFiles: 0,
        backlogBytes: 0,
      },
    ],
  };
}

/** Values that break schemas in the usual ways, beside fast-check's arbitrary JSON. */
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    undefined,
    null,
    '',
    '\u0000',
    'a\u0000b',
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER,
    2 ** 31,
    '../../etc/passwd',
    'https://evil.example/x.jpg',
    '/v1/snapshots/other-cam/x.jpg',
    'x'.repeat(5000),
    '2026-13-45T99:99:99Z',
    '9999-12-31T23:59:59.999Z',
    { $gt: '' },
    ['a', 1],
  ),
);

function payloads(valid: unknown, paths: string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...paths), nasty)
        .map(([p, v]) => Buffer.from(JSON.stringify(mutate(valid, p, v)))),
    },
    {
      weight: 1,
      arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4000 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constant(Buffer.from(JSON.stringify(valid))) },
  );
}

describe('fuzz: what a node can send never crashes a service and every refusal is counted', () => {
  let c: SecurityCluster;
  let node: TestNode;

  before(async () => {
    c = await startSecurityCluster();
    node = await c.node('fuzz-node');
    await node.hello(['fz-cam']);
    await c.owned('fz-cam', 'fuzz-node');
  });

  /** What the master counted for a kind: taken, and refused as it arrived (before any store). */
  const counted = async (kind: Kind) => {
    const reasons =
      kind === 'reply'
        ? ['invalid', 'wrong_node', 'unexpected']
        : kind === 'events'
          ? ['bad_topic', 'invalid_payload', 'bad_snapshot']
          : ['bad_topic', 'invalid_payload'];
    const refused = await Promise.all(
      reasons.map((r) => c.masterMetric('cctv_mqtt_messages_rejected_total', `kind="${kind}",reason="${r}"`)),
    );
    const taken = kind === 'reply' ? 0 : await c.masterMetric('cctv_mqtt_messages_total', `kind="${kind}"`);
    return taken + refused.reduce((a, b) => a + b, 0);
  };

  const cases: { kind: Kind; topic: () => string; payload: fc.Arbitrary<Buffer> }[] = [
    {
      kind: 'status',
      topic: () => topics.status('fuzz-node'),
      payload: payloads({ state: 'online', at: new Date().toISOString(), agentVersion: 'f' }, [
        'state',
        'at',
        'agentVersion',
        'extra',
      ]),
    },
    {
      kind: 'hello',
      topic: () => topics.hello('fuzz-node'),
      payload: payloads(helloOf('fuzz-node', ['fz-cam']), [
        'nodeId',
        'protocolVersion',
        'cameras',
        'cameras.0.id',
        'cameras.0.name',
        'cameras.0.width',
        'cameras.0.fps',
        'host.hostname',
        'capabilities.hwEncoders',
        'at',
      ]),
    },
    {
      kind: 'heartbeat',
      topic: () => topics.heartbeat('fuzz-node'),
      payload: payloads(heartbeatOf('fz-cam'), [
        'seq',
        'at',
        'cpu.percent',
        'mem',
        'cameras.0.id',
        'cameras.0.state',
        'cameras',
        'tempC',
        'disk.spoolFreeBytes',
      ]),
    },
    {
      kind: 'events',
      topic: () => topics.events('fuzz-node'),
      payload: payloads(
        {
          ...eventOf(randomUUID(), 'fz-cam'),
          snapshot: {
            image: '/v1/snapshots/fz-cam/x-1.jpg',
            thumbnail: '/v1/snapshots/fz-cam/x-1-thumb.jpg',
            at: new Date().toISOString(),
            width: 64,
            height: 36,
            blurred: false,
          },
        },
        [
          'id',
          'seq',
          'type',
          'phase',
          'cameraId',
          'startedAt',
          'at',
          'endedAt',
          'boxes',
          'boxes.0.x',
          'score',
          'zones',
          'frames',
          'snapshot',
          'snapshot.image',
          'snapshot.thumbnail',
        ],
      ),
    },
    {
      kind: 'reply',
      topic: () => topics.reply('fuzz-node', `r${randomUUID().slice(0, 8)}`),
      payload: payloads(
        { reqId: 'r1', command: 'ping', ok: true, at: new Date().toISOString(), result: {} },
        ['reqId', 'command', 'ok', 'result', 'error'],
      ),
    },
  ];

  for (const { kind, topic, payload } of cases) {
    it(`MQTT ${kind}: every payload taken or counted as refused; the master stays up`, async () => {
      const before = await counted(kind);
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(payload, async (p) => {
          // An empty status clears the retained one: a legitimate MQTT idiom, not counted.
          if (kind === 'status' && p.length === 0) return;
          await node.client.publishAsync(topic(), p, { qos: 1 });
          sent++;
        }),
        { seed: SEED, numRuns: RUNS },
      );
      assert.ok(node.client.connected, 'the node was never cut off for what it sent');
      // QoS 1: each was acknowledged after the master's handler saw it.
      assert.equal((await counted(kind)) - before, sent, `${kind}: taken + refused = sent`);
      assert.equal((await fetch(`${c.masterUrl}/healthz`)).status, 200);
    });
  }

  it('gateway uploads: arbitrary cameras, names and headers never reach a 500, every refusal is counted, no file lands outside the store', async () => {
    const printable = fc.string({
      unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~'.split('')),
      maxLength: 80,
    });
    const camera = fc.oneof(
      fc.constant('fz-cam'),
      fc.constantFrom('..', '.', 'other-cam', 'FZ-CAM', 'fz-cam/..', '%2e%2e', 'a'.repeat(70), ''),
      printable,
    );
    const name = fc.oneof(
      fc.integer({ min: 0, max: 999 }).map((i) => `fz-${String(i).padStart(6, '0')}.m4s`),
      fc.constantFrom(
        'init-fz.mp4',
        '../escape.m4s',
        '..%2Fescape.m4s',
        'a/b.m4s',
        '.m4s',
        'x.jpg',
        'x..m4s',
        `${'n'.repeat(200)}.m4s`,
      ),
      printable,
    );
    const headerKeys = Object.values(SEGMENT_HEADERS);
    let stored = 0;
    // Valid headers of a media segment, a few of them replaced or added by fuzzed values.
    const headers = fc
      .tuple(
        fc.integer({ min: 0, max: 3600 }),
        fc.dictionary(fc.constantFrom(...headerKeys, 'content-type', 'x-other'), printable, { maxKeys: 3 }),
      )
      .map(
        ([s, fuzzed]): Record<string, string> => ({
          [SEGMENT_HEADERS.node]: 'fuzz-node',
          [SEGMENT_HEADERS.start]: new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString(),
          [SEGMENT_HEADERS.durationMs]: '2000',
          [SEGMENT_HEADERS.init]: 'init-fz.mp4',
          [SEGMENT_HEADERS.codec]: 'avc1',
          ...fuzzed,
        }),
      );
    const body = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));
    const kind = fc.constantFrom('segments', 'snapshots');
    const rejected = async () =>
      (
        await Promise.all(
          [
            ['cctv_gateway_segments_rejected_total', 'reason'],
            ['cctv_gateway_snapshots_rejected_total', 'reason'],
          ].map(async ([metric]) => {
            const text = await (await fetch(`${c.gatewayUrl}/metrics`)).text();
            return text
              .split('\n')
              .filter((l) => l.startsWith(`${metric}{`))
              .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
          }),
        )
      ).reduce((a, b) => a + b, 0);
    const before = await rejected();
    let refusals = 0;
    const statuses = new Map<number, number>();
    const enc = (s: string) => s.replace(/[^A-Za-z0-9._~!$&'()*+,;=:@/-]/g, (ch) => encodeURIComponent(ch));
    await fc.assert(
      fc.asyncProperty(kind, camera, name, headers, body, fc.boolean(), async (k, cam, n, h, b, goodSha) => {
        const res = await raw(c.gatewayUrl, `/v1/${k}/${enc(cam)}/${enc(n)}`, b, {
          ...h,
          'content-length': String(b.length),
          ...(goodSha ? { [SEGMENT_HEADERS.sha256]: sha256(b) } : {}),
          authorization: `Bearer ${node.uploadToken}`,
        });
        statuses.set(res, (statuses.get(res) ?? 0) + 1);
        assert.ok(res < 500 || res === 503, `status ${res} for ${k} ${cam}/${n}`);
        if (res >= 400) refusals++;
        else stored++;
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
    assert.equal((await rejected()) - before, refusals, `refusals counted: ${JSON.stringify([...statuses])}`);
    assert.ok(stored > 0, `some uploads were valid and stored: ${JSON.stringify([...statuses])}`);
    // Whatever was stored is a plain file of a valid camera and name, inside the store.
    const root = join(c.dir, 'gateway');
    const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    for (const f of files) {
      const rel = relative(root, join(f.parentPath, f.name)).split('/');
      if (rel[0] === 'renditions' || rel.includes('.incoming') || rel.includes('.tmp')) continue;
      const [store, cam, file, extra] = rel;
      assert.ok(store === 'buffer' || store === 'snapshots', rel.join('/'));
      assert.ok(cam && isValidId(cam) && file && extra === undefined, rel.join('/'));
      assert.ok(store === 'buffer' ? segmentKind(file) !== null : isSnapshotName(file), rel.join('/'));
    }
    assert.equal((await fetch(`${c.gatewayUrl}/healthz`)).status, 200);
  });

  it('gateway reads: arbitrary grants and paths never reach a 500 and are refused', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 400 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{10,60}\.[A-Za-z0-9_-]{10,300}\.[A-Za-z0-9_-]{86}$/),
    );
    const route = fc.constantFrom(
      'vod/fz-cam.m3u8',
      'live/fz-cam.m3u8',
      'segments/fz-cam/fz-000001.m4s',
      'renditions/h264/fz-cam/fz-000001.ts',
      'snapshots/fz-cam/x-1.jpg',
      'vod/fz-cam/h264.m3u8',
    );
    await fc.assert(
      fc.asyncProperty(segment, route, async (g, r) => {
        const status = await raw(
          c.gatewayUrl,
          `/v1/g/${encodeURIComponent(g)}/${r}`,
          Buffer.alloc(0),
          {},
          'GET',
        );
        assert.ok(
          status === 401 || status === 403 || status === 404 || status === 400,
          `status ${status} for ${g}`,
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/** A request with the path as given (fetch would normalise it); resolves to the status. */
function raw(
  base: string,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
  method = 'PUT',
): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
