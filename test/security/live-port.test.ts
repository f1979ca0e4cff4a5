/**
 * A live-view convenience must never take down the recorder: an agent whose jsmpeg port is held
 * by another program, against a real master and gateway, records and uploads as usual, says
 * live view is unavailable (heartbeat at the master), and serves it once the port is free.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { NodeView } from '@cctv/protocol';
import { enrolTestNodeFully } from '../support/enrol.ts';
import { freePort, type ServiceProcess, startService, tempDir, waitFor } from '../support/index.ts';
import { type SecurityCluster, startSecurityCluster } from './support/cluster.ts';

const NODE = 'busy-port-node';

interface LiveState {
  jsmpeg: string;
  webrtc: string;
  reason?: string;
}

describe('an agent whose live-view port is taken keeps recording', () => {
  let c: SecurityCluster;
  let agent: ServiceProcess;
  let holder: Server;
  let livePort: number;

  before(async () => {
    c = await startSecurityCluster();
    livePort = await freePort();
    holder = createServer(() => {});
    await new Promise<void>((resolve) => holder.listen(livePort, '127.0.0.1', () => resolve()));
    const dir = await tempDir('cctv-sec-agent-');
    const enrolment = await enrolTestNodeFully(c.databaseUrl, NODE);
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      JSON.stringify({
        nodeId: NODE,
        mqtt: { url: c.mqttUrl, username: NODE, password: enrolment.secret },
        gateway: { url: c.gatewayUrl, token: enrolment.uploadToken },
        spool: { dir: join(dir, 'spool'), minFreeBytes: 0 },
        stateDir: join(dir, 'state'),
        heartbeatIntervalS: 1,
        segmentSeconds: 2,
        httpPort: 0,
        live: { jsmpeg: { host: '127.0.0.1', port: livePort, retryInitialMs: 300, retryMaxMs: 600 } },
      }),
    );
    agent = startService('node-agent/src/main.ts', {}, ['--config', config]);
  });

  const live = async () => {
    const node = await c.admin.getJson<NodeView>(`/api/nodes/${NODE}`);
    return (node.heartbeat as { live?: LiveState } | null)?.live ?? null;
  };

  it('records and uploads while live view reports the port in use; serves it once the port is free', async () => {
    const camera = `${NODE}-sim`;
    await waitFor(
      'segments of the camera at the gateway',
      async () => (await c.db.segment.count({ where: { cameraId: camera } })) >= 2,
      60_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- agent ---\n${agent.output().slice(-4000)}`);
    });
    assert.equal(agent.child.exitCode, null, 'the agent runs');
    const unavailable = await waitFor('heartbeat: jsmpeg unavailable', async () => {
      const l = await live();
      return l?.jsmpeg === 'unavailable' ? l : null;
    });
    assert.equal(unavailable.reason, `jsmpeg: port ${livePort} in use`);
    assert.equal(unavailable.webrtc, 'ok');

    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await waitFor('heartbeat: jsmpeg ok', async () => (await live())?.jsmpeg === 'ok', 15_000);
    const before = await c.db.segment.count({ where: { cameraId: camera } });
    await waitFor(
      'recording went on',
      async () => (await c.db.segment.count({ where: { cameraId: camera } })) > before,
      15_000,
    );
  });
});
