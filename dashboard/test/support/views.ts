import type { AlertView, CameraView, EventView, NodeView } from '@cctv/protocol';

/** The master's views as the dashboard receives them, with what a test does not care about filled in. */

export function eventView(over: Partial<EventView> = {}): EventView {
  return {
    id: 'ev-1',
    nodeId: 'node-a',
    cameraId: 'cam1',
    type: 'motion',
    startedAt: '2026-03-01T10:00:00.000Z',
    endedAt: '2026-03-01T10:00:12.000Z',
    lastAt: '2026-03-01T10:00:12.000Z',
    score: 0.8,
    bestAt: '2026-03-01T10:00:04.000Z',
    boxes: [],
    zones: [],
    frames: 12,
    snapshot: null,
    lastSeq: 1,
    updatedAt: '2026-03-01T10:00:12.000Z',
    ...over,
  };
}

export function cameraView(id: string, name = id): CameraView {
  return {
    id,
    nodeId: 'node-a',
    name,
    codec: 'hevc',
    width: 1920,
    height: 1080,
    fps: 15,
    simulated: false,
    state: 'recording',
    online: true,
  };
}

export function nodeView(over: Partial<NodeView> = {}): NodeView {
  return {
    id: 'node-a',
    state: 'online',
    agentVersion: '0.1.0',
    hostname: 'edge-a',
    platform: 'linux',
    arch: 'arm64',
    lastSeenAt: '2026-03-01T10:00:00.000Z',
    lastHeartbeatAt: '2026-03-01T10:00:00.000Z',
    stateChangedAt: '2026-03-01T09:00:00.000Z',
    heartbeat: null,
    config: {
      mode: 'master',
      desiredVersion: null,
      appliedVersion: null,
      sync: 'unconfigured',
      reason: null,
    },
    cameras: [],
    ...over,
  };
}

export function alertView(over: Partial<AlertView> = {}): AlertView {
  return {
    id: '10',
    kind: 'detection',
    severity: 'warning',
    state: 'resolved',
    ruleId: 'detections',
    ruleName: 'Every detection',
    nodeId: 'node-a',
    cameraId: 'cam1',
    eventId: 'ev-1',
    message: 'motion on cam1',
    count: 1,
    raisedAt: '2026-03-01T10:00:00.000Z',
    updatedAt: '2026-03-01T10:00:00.000Z',
    resolvedAt: '2026-03-01T10:00:00.000Z',
    acknowledgedAt: null,
    acknowledgedBy: null,
    ...over,
  };
}
