import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeartbeatMessage } from '@cctv/protocol';
import { nodeFigures } from '../features/fleet/fleet-figures.ts';

const why = 'libx265 could not hold real time (speed 0.62× over 20 s, 1.1 s behind, ffmpeg 98 % of a core)';

const heartbeat = (fallback?: string): HeartbeatMessage => ({
  at: '2026-03-01T10:00:00.000Z',
  seq: 1,
  uptimeS: 60,
  cpu: { percent: 10, load1: 0 },
  mem: { rssBytes: 100, totalBytes: 1000, freeBytes: 500 },
  tempC: null,
  disk: { spoolUsedBytes: 1, spoolFreeBytes: 50, spoolTotalBytes: 100 },
  cameras: [
    {
      id: 'c',
      state: 'recording',
      fps: 15,
      bitrateKbps: 2000,
      lastSegmentAt: null,
      segmentsRecorded: 1,
      backlogFiles: 0,
      backlogBytes: 0,
      mode: 'copy',
      encoder: 'copy',
      ...(fallback ? { fallback } : {}),
    },
  ],
});

describe('fleet figures of a camera', () => {
  it('carry why the node stores the camera’s own codec, for the fleet page', () => {
    assert.equal(nodeFigures(heartbeat(why)).cameras.get('c')?.fallback, why);
  });

  it('read no fallback from a heartbeat without one (an older agent, or none happened)', () => {
    assert.equal(nodeFigures(heartbeat()).cameras.get('c')?.fallback, null);
  });
});
