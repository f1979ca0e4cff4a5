import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeartbeatMessage, NodeView } from '@cctv/protocol';
import {
  DEFAULT_VIEW,
  type FleetView,
  fleetRows,
  matchesQuery,
  SORT_KEYS,
  type SortKey,
  viewFromParams,
  viewSearch,
} from '../features/fleet/fleet-view.ts';
import { cameraView, nodeView } from './support/views.ts';

/** A heartbeat with the figures the table sorts by. */
const heartbeat = (f: {
  cpu?: number;
  hostCpu?: number;
  memFree?: number;
  temp?: number;
  spoolFree?: number;
  backlog?: number;
  clockMs?: number;
}): HeartbeatMessage => ({
  at: '2026-03-01T10:00:00.000Z',
  seq: 1,
  uptimeS: 60,
  cpu: { percent: f.cpu ?? 10, load1: 0 },
  mem: { rssBytes: 100, totalBytes: 1000, freeBytes: f.memFree ?? 500 },
  tempC: f.temp ?? null,
  disk: { spoolUsedBytes: 1, spoolFreeBytes: f.spoolFree ?? 50, spoolTotalBytes: 100 },
  ...(f.hostCpu === undefined
    ? {}
    : {
        host: {
          uptimeS: 600,
          load1: 0,
          load5: 0,
          load15: 0,
          cpuPercent: f.hostCpu,
          memTotalBytes: 1000,
          memFreeBytes: 500,
          memAvailableBytes: 500,
        },
      }),
  ...(f.clockMs === undefined
    ? {}
    : {
        clock: {
          offsetMs: f.clockMs,
          rttMs: 2,
          measuredAt: '2026-03-01T10:00:00.000Z',
          synced: null,
          source: null,
        },
      }),
  cameras:
    f.backlog === undefined
      ? []
      : [
          {
            id: 'c',
            state: 'recording',
            fps: 15,
            bitrateKbps: 2000,
            lastSegmentAt: null,
            segmentsRecorded: 1,
            backlogFiles: 1,
            backlogBytes: f.backlog,
          },
        ],
});

const nodes: NodeView[] = [
  nodeView({
    id: 'node-10',
    hostname: 'Bravo',
    state: 'offline',
    agentVersion: '0.10.0',
    lastHeartbeatAt: '2026-03-01T09:00:00.000Z',
    heartbeat: heartbeat({
      cpu: 5,
      hostCpu: 80,
      memFree: 100,
      temp: 70,
      spoolFree: 10,
      backlog: 5000,
      clockMs: -90_000,
    }),
    cameras: [cameraView('gate', 'Front gate'), cameraView('yard')],
  }),
  nodeView({
    id: 'node-2',
    hostname: 'alpha',
    state: 'online',
    agentVersion: '0.9.0',
    lastHeartbeatAt: '2026-03-01T10:00:00.000Z',
    heartbeat: heartbeat({ cpu: 50, memFree: 900, temp: 40, spoolFree: 90, backlog: 0, clockMs: 300 }),
    cameras: [cameraView('lobby', 'Lobby')],
  }),
  nodeView({
    id: 'node-3',
    hostname: null,
    state: 'stale',
    agentVersion: null,
    lastHeartbeatAt: null,
    heartbeat: null,
    cameras: [],
  }),
];

const ids = (view: Partial<FleetView>) =>
  fleetRows(nodes, { ...DEFAULT_VIEW, ...view }).map((r) => r.node.id);

describe('fleetRows sorting', () => {
  it('sorts by node id with numbers in order by default', () => {
    assert.deepEqual(ids({}), ['node-2', 'node-3', 'node-10']);
    assert.deepEqual(ids({ dir: 'desc' }), ['node-10', 'node-3', 'node-2']);
  });

  it('puts healthy nodes first by state', () => {
    assert.deepEqual(ids({ sort: 'state' }), ['node-2', 'node-3', 'node-10']);
    assert.deepEqual(ids({ sort: 'state', dir: 'desc' }), ['node-10', 'node-3', 'node-2']);
  });

  it('puts the youngest heartbeat first, and none last', () => {
    assert.deepEqual(ids({ sort: 'heartbeat' }), ['node-2', 'node-10', 'node-3']);
    assert.deepEqual(ids({ sort: 'heartbeat', dir: 'desc' }), ['node-10', 'node-2', 'node-3']);
  });

  it('keeps missing figures last in both directions', () => {
    const expected: Record<Exclude<SortKey, 'node' | 'state' | 'heartbeat' | 'cameras'>, string[]> = {
      // Host names compare without case.
      host: ['node-2', 'node-10', 'node-3'],
      // Versions compare by number: 0.9 before 0.10.
      agent: ['node-2', 'node-10', 'node-3'],
      // The host's CPU where the agent sends it (80), else the agent's own (50).
      cpu: ['node-2', 'node-10', 'node-3'],
      memory: ['node-2', 'node-10', 'node-3'],
      temp: ['node-2', 'node-10', 'node-3'],
      disk: ['node-2', 'node-10', 'node-3'],
      backlog: ['node-2', 'node-10', 'node-3'],
      // How far off, either way: +300 ms before -90 s.
      clock: ['node-2', 'node-10', 'node-3'],
    };
    for (const [sort, asc] of Object.entries(expected) as [SortKey, string[]][]) {
      assert.deepEqual(ids({ sort }), asc, `${sort} asc`);
      assert.deepEqual(ids({ sort, dir: 'desc' }), [asc[1], asc[0], asc[2]], `${sort} desc`);
    }
  });

  it('sorts by camera count, ties by node id', () => {
    assert.deepEqual(ids({ sort: 'cameras' }), ['node-3', 'node-2', 'node-10']);
    const twins = [
      nodeView({ id: 'b' }),
      nodeView({ id: 'a' }),
      nodeView({ id: 'c', cameras: [cameraView('x')] }),
    ];
    const rows = fleetRows(twins, { ...DEFAULT_VIEW, sort: 'cameras', dir: 'desc' });
    assert.deepEqual(
      rows.map((r) => r.node.id),
      ['c', 'a', 'b'],
    );
  });

  it('gives each row its figures', () => {
    const [row] = fleetRows(nodes, { ...DEFAULT_VIEW, query: 'node-10' });
    assert.equal(row?.figures.hostCpuPercent, 80);
    assert.equal(row?.figures.backlogBytes, 5000);
    assert.equal(row?.figures.diskUsedFraction, 0.9);
  });

  it('leaves the list it was given in its order', () => {
    fleetRows(nodes, { ...DEFAULT_VIEW, sort: 'cpu' });
    assert.deepEqual(
      nodes.map((n) => n.id),
      ['node-10', 'node-2', 'node-3'],
    );
  });
});

describe('fleetRows filtering', () => {
  it('keeps one state', () => {
    assert.deepEqual(ids({ state: 'online' }), ['node-2']);
    assert.deepEqual(ids({ state: 'stale' }), ['node-3']);
    assert.deepEqual(ids({ state: 'offline' }), ['node-10']);
  });

  it('matches every term against node, host and camera ids and names, without case', () => {
    assert.deepEqual(ids({ query: 'ALPHA' }), ['node-2']);
    assert.deepEqual(ids({ query: 'front gate' }), ['node-10']);
    assert.deepEqual(ids({ query: 'yard bravo' }), ['node-10']);
    assert.deepEqual(ids({ query: 'yard alpha' }), []);
    assert.deepEqual(ids({ query: 'node' }), ['node-2', 'node-3', 'node-10']);
    assert.deepEqual(ids({ query: 'lobby', state: 'offline' }), []);
  });

  it('takes a blank query as none', () => {
    assert.equal(matchesQuery(nodes[2] as NodeView, '   '), true);
    assert.equal(matchesQuery(nodes[2] as NodeView, 'null'), false);
  });

  it('gives no rows for no nodes', () => {
    assert.deepEqual(fleetRows([], DEFAULT_VIEW), []);
  });
});

describe('the view in the address', () => {
  it('reads every part, the first of repeated ones', () => {
    assert.deepEqual(viewFromParams({ q: 'gate', state: 'stale', sort: 'disk', dir: 'desc' }), {
      query: 'gate',
      state: 'stale',
      sort: 'disk',
      dir: 'desc',
    });
    assert.deepEqual(viewFromParams({ q: ['a', 'b'], sort: ['cpu', 'temp'] }), {
      ...DEFAULT_VIEW,
      query: 'a',
      sort: 'cpu',
    });
  });

  it('falls back to the default for anything unknown and cuts a long query', () => {
    assert.deepEqual(viewFromParams({}), DEFAULT_VIEW);
    assert.deepEqual(viewFromParams({ state: 'broken', sort: 'toString', dir: 'up' }), DEFAULT_VIEW);
    assert.equal(viewFromParams({ q: 'x'.repeat(500) }).query.length, 200);
  });

  it('writes only what differs from the default, sort and direction together', () => {
    assert.equal(viewSearch(DEFAULT_VIEW), '');
    assert.equal(viewSearch({ ...DEFAULT_VIEW, dir: 'desc' }), '?sort=node&dir=desc');
    assert.equal(
      viewSearch({ query: 'front gate', state: 'offline', sort: 'cpu', dir: 'asc' }),
      '?q=front+gate&state=offline&sort=cpu&dir=asc',
    );
  });

  it('round-trips every sort key', () => {
    for (const sort of SORT_KEYS)
      for (const dir of ['asc', 'desc'] as const) {
        const view: FleetView = { query: 'a b', state: 'online', sort, dir };
        assert.deepEqual(viewFromParams(Object.fromEntries(new URLSearchParams(viewSearch(view)))), view);
      }
  });
});
