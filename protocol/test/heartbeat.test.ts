import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HeartbeatMessage, validators } from '../src/index.ts';

const at = '2026-11-23T10:15:00.000Z';

/** The shape agents sent before host/agent figures were added. */
const older = {
  seq: 3,
  at,
  uptimeS: 15,
  cpu: { percent: 12.5, load1: 0.4 },
  mem: { rssBytes: 80e6, totalBytes: 4e9, freeBytes: 2e9 },
  tempC: null,
  disk: { spoolFreeBytes: 10e9, spoolUsedBytes: 1e9 },
  cameras: [
    {
      id: 'cam1',
      state: 'recording',
      fps: 15,
      bitrateKbps: 4000,
      lastSegmentAt: at,
      segmentsRecorded: 3,
      backlogFiles: 0,
      backlogBytes: 0,
    },
  ],
};

const current: HeartbeatMessage = {
  ...older,
  disk: { ...older.disk, spoolTotalBytes: 32e9 },
  host: {
    cpuPercent: 37.5,
    load1: 1.2,
    load5: 0.9,
    load15: 0.7,
    memTotalBytes: 4e9,
    memFreeBytes: 1e9,
    memAvailableBytes: 2e9,
    uptimeS: 86400.5,
  },
  agent: {
    cpuPercent: 140.2,
    rssBytes: 300e6,
    selfCpuPercent: 4.1,
    selfRssBytes: 80e6,
    children: 2,
    uptimeS: 15,
  },
  cameras: [
    {
      id: 'cam1',
      state: 'recording',
      fps: 15,
      bitrateKbps: 4000,
      lastSegmentAt: at,
      segmentsRecorded: 3,
      backlogFiles: 2,
      backlogBytes: 4096,
      backlogOldestAt: at,
      droppedSegments: 1,
      restarts: 4,
      transport: 'tcp',
      mode: 'copy',
      encoder: 'copy',
      cpuPercent: 136.1,
      rssBytes: 220e6,
    },
  ],
};

const check = (v: unknown) => {
  const r = validators.heartbeat.validate(v);
  return r.ok ? 'ok' : r.error;
};

describe('heartbeat schema', () => {
  it('still accepts heartbeats from agents that send no host, agent or per-camera process figures', () => {
    assert.equal(check(older), 'ok');
  });

  it('accepts the full heartbeat, and null transport / backlog age', () => {
    assert.equal(check(current), 'ok');
    const cam = { ...current.cameras[0], transport: null, backlogOldestAt: null };
    assert.equal(check({ ...current, cameras: [cam] }), 'ok');
  });

  it('refuses bad new figures', () => {
    const cam = current.cameras[0];
    assert.match(check({ ...current, cameras: [{ ...cam, transport: 'quic' }] }), /^invalid at \/cameras\/0/);
    assert.match(
      check({ ...current, cameras: [{ ...cam, restarts: -1 }] }),
      /^invalid at \/cameras\/0\/restarts/,
    );
    assert.match(check({ ...current, cameras: [{ ...cam, droppedSegments: 1.5 }] }), /droppedSegments/);
    assert.match(
      check({ ...current, cameras: [{ ...cam, backlogOldestAt: 'yesterday' }] }),
      /backlogOldestAt/,
    );
    assert.match(
      check({ ...current, host: { ...current.host, cpuPercent: 150 } }),
      /^invalid at \/host\/cpuPercent/,
    );
    assert.match(
      check({ ...current, agent: { ...current.agent, rssBytes: -1 } }),
      /^invalid at \/agent\/rssBytes/,
    );
    const { load15: _, ...hostWithoutLoad15 } = current.host ?? {};
    assert.match(check({ ...current, host: hostWithoutLoad15 }), /^invalid at \/host/);
  });

  it('takes the optional clock, and refuses a malformed one', () => {
    const clock = {
      offsetMs: 90_012.5,
      rttMs: 3.1,
      measuredAt: at,
      synced: null,
      source: null,
    };
    assert.equal(check({ ...current, clock }), 'ok');
    assert.equal(check({ ...current, clock: { ...clock, synced: true, source: 'chrony' } }), 'ok');
    assert.equal(check({ ...current, clock: { ...clock, synced: false, source: 'timedatectl' } }), 'ok');
    assert.match(check({ ...current, clock: { ...clock, source: 'ntpd' } }), /^invalid at \/clock\/source/);
    assert.match(check({ ...current, clock: { ...clock, rttMs: -1 } }), /^invalid at \/clock\/rttMs/);
    assert.match(
      check({ ...current, clock: { ...clock, measuredAt: 'now' } }),
      /^invalid at \/clock\/measuredAt/,
    );
    const { synced: _, ...withoutSynced } = clock;
    assert.match(check({ ...current, clock: withoutSynced }), /^invalid at \/clock/);
  });
});
