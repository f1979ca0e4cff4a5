import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeartbeatMessage, NodeEnrolment } from '@cctv/protocol';
import {
  agentYaml,
  ansibleHostVars,
  configVersions,
  defaultAgentUrls,
  nodeProblems,
  syncLabel,
} from '../features/nodes/node-admin.ts';
import { nodeView } from './support/views.ts';

const heartbeat = (over: Partial<HeartbeatMessage>): HeartbeatMessage => ({
  seq: 1,
  at: '2026-01-01T00:00:00Z',
  uptimeS: 1,
  cpu: { percent: 1, load1: 0 },
  mem: { rssBytes: 1, totalBytes: 2, freeBytes: 1 },
  tempC: null,
  disk: { spoolFreeBytes: 1, spoolUsedBytes: 1 },
  cameras: [],
  ...over,
});

const camera = (id: string, state: HeartbeatMessage['cameras'][number]['state'], reason?: string) => ({
  id,
  state,
  ...(reason ? { reason } : {}),
  fps: 0,
  bitrateKbps: 0,
  lastSegmentAt: null,
  segmentsRecorded: 0,
  backlogFiles: 0,
  backlogBytes: 0,
});

const enrolment: NodeEnrolment = {
  nodeId: 'edge-1',
  username: 'edge-1',
  password: 'pw-123',
  uploadToken: 'tok-456',
  rotated: false,
};

describe('node admin', () => {
  it('lists failing cameras, a refused configuration and live view trouble', () => {
    const node = nodeView({
      heartbeat: heartbeat({
        cameras: [camera('a', 'recording'), camera('b', 'failed', 'RTSP 401'), camera('c', 'reconnecting')],
        config: { mode: 'master', version: 3, failed: { version: 4, reason: 'unreadable source' } },
        live: { jsmpeg: 'unavailable', webrtc: 'ok', reason: 'jsmpeg: port 8091 in use' },
      }),
    });
    assert.deepEqual(nodeProblems(node), [
      'camera b failed: RTSP 401',
      'camera c reconnecting',
      'config v4 refused: unreadable source',
      'live view: jsmpeg: port 8091 in use',
    ]);
    assert.deepEqual(nodeProblems(nodeView({})), []);
  });

  it('shows the config versions and sync state', () => {
    const node = nodeView({
      config: { mode: 'master', desiredVersion: 4, appliedVersion: 3, sync: 'in_sync', reason: null },
    });
    assert.equal(configVersions(node), 'desired v4 · applied v3');
    assert.equal(configVersions(nodeView({})), 'desired — · applied —');
    assert.equal(syncLabel('file_managed'), 'file managed');
  });

  it('guesses the agent URLs from the master host, keeping IPv6 in brackets', () => {
    assert.deepEqual(defaultAgentUrls('https://cctv.example:8080'), {
      mqttUrl: 'mqtts://cctv.example:8883',
      gatewayUrl: 'https://cctv.example:8090',
    });
    assert.equal(defaultAgentUrls('https://[::1]:8080').mqttUrl, 'mqtts://[::1]:8883');
    assert.equal(defaultAgentUrls('not a url').gatewayUrl, 'https://master.example:8090');
  });

  it('writes the agent YAML and the Ansible host_vars with the secrets quoted', () => {
    const urls = { mqttUrl: 'mqtts://m:8883', gatewayUrl: 'https://g:8090' };
    assert.equal(
      agentYaml(enrolment, urls),
      [
        'nodeId: edge-1',
        'mqtt:',
        '  url: mqtts://m:8883',
        '  username: edge-1',
        '  password: "pw-123"',
        'gateway:',
        '  url: https://g:8090',
        '  token: "tok-456"',
      ].join('\n'),
    );
    const vars = ansibleHostVars(enrolment);
    assert.match(vars, /^node_agent_node_id: edge-1$/m);
    assert.match(vars, /^node_agent_mqtt_password: "pw-123"$/m);
    assert.match(vars, /^node_agent_upload_token: "tok-456"$/m);
  });
});
