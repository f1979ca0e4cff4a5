/**
 * An agent with two gateways, every part real: two storage gateway processes on one PostgreSQL
 * and one NAS folder (each its own buffer and port), an MQTT broker, and the agent in-process
 * recording its simulated camera. The first gateway is killed (SIGKILL) while the agent records:
 * the agent goes on with the second within seconds, its init first; once the first is back and
 * the cool-down has passed, it uploads to the first again. Every segment recorded meanwhile is
 * indexed with the sha256 the agent computed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPrismaClient } from '@cctv/db';
import pino from 'pino';
import { enrolTestNodeFully, registerTestCameras } from '../../test/support/enrol.ts';
import {
  freePort,
  onCleanup,
  type ServiceProcess,
  startService,
  startTestDatabase,
  tempDir,
  waitFor,
  waitHealthy,
} from '../../test/support/index.ts';
import { testTls } from '../../test/support/tls.ts';
import { startAgent } from '../src/agent.ts';
import { loadConfigFile } from '../src/config.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { scanCameraSpool } from '../src/spool/scan.ts';
import { startBroker } from './broker.ts';
import { capturingLogger } from './in-process.ts';

const NODE = 'failover-node';
const CAMERA = `${NODE}-sim`;
const RETRY_PRIMARY_S = 4;

interface LogLine {
  time: number;
  msg: string;
  gateway?: string;
  from?: string;
  to?: string;
  segment?: string;
}

describe('an agent with two gateways', () => {
  it('fails over when the first is killed, comes back to it after the cool-down, and loses nothing', async () => {
    const dir = await tempDir('agent-failover-');
    const [db, broker, portA, portB, metricsPort] = await Promise.all([
      startTestDatabase(),
      startBroker(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const urlA = `https://127.0.0.1:${portA}`;
    const urlB = `https://127.0.0.1:${portB}`;
    const startGateway = (id: 'a' | 'b', port: number): ServiceProcess =>
      startService('storage-gateway/src/main.ts', {
        DATABASE_URL: db.gateway,
        GATEWAY_ID: `gw-${id}`,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        GATEWAY_DATA_DIR: join(dir, `gateway-${id}`),
        GATEWAY_NAS_DIR: join(dir, 'nas'),
        GATEWAY_RETENTION_DAYS: '0',
        GATEWAY_NAS_MIN_FREE_PERCENT: '0',
      });
    let gatewayA = startGateway('a', portA);
    const gatewayB = startGateway('b', portB);
    const { uploadToken } = await enrolTestNodeFully(db.url, NODE);
    // No master here: the camera is registered to the node as its hello would.
    await registerTestCameras(db.url, NODE, [CAMERA]);
    await Promise.all([waitHealthy(gatewayA, `${urlA}/healthz`), waitHealthy(gatewayB, `${urlB}/healthz`)]);

    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      [
        `nodeId: ${NODE}`,
        `mqtt: { url: "${broker.url}" }`,
        `gateway: { url: "${urlA}", fallbackUrls: ["${urlB}"], retryPrimaryS: ${RETRY_PRIMARY_S}, token: "${uploadToken}" }`,
        `tls: { ca: "${testTls().caFile}" }`,
        `spool: { dir: "${join(dir, 'spool')}", minFreeBytes: 0 }`,
        `stateDir: "${join(dir, 'state')}"`,
        'segmentSeconds: 2',
        `httpPort: ${metricsPort}`,
        'live: { enabled: false }',
        // Recording only, as small as it gets: the test machine is shared.
        'simulatedCamera: { width: 160, height: 90, fps: 5, detect: { enabled: false } }',
        '',
      ].join('\n'),
    );
    const { logger, lines } = capturingLogger('debug');
    const log = () => lines.map((l) => JSON.parse(l) as LogLine);
    const uploadsTo = (url: string, since = 0) =>
      log().filter((l) => l.msg === 'segment uploaded' && l.gateway === url && l.time >= since);
    const spoolCamera = join(dir, 'spool', CAMERA);
    after(() => reapStaleFfmpeg(spoolCamera, pino({ level: 'silent' })));
    const agent = await startAgent(loadConfigFile(configPath), { logger });
    onCleanup(() => agent.stop());
    const tail = () => lines.slice(-40).join('');

    await waitFor(
      'two segments uploaded to the first gateway',
      () => uploadsTo(urlA).length >= 2,
      40_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${tail()}`);
    });
    const killedAt = Date.now();
    await gatewayA.kill('SIGKILL');

    const firstAtB = await waitFor(
      'a segment uploaded to the second gateway',
      () => uploadsTo(urlB)[0],
      20_000,
    );
    const failover = log().find((l) => l.msg.startsWith('gateway failover'));
    assert.ok(failover, 'the switch is logged');
    assert.deepEqual([failover.from, failover.to], [urlA, urlB]);
    const failoverMs = firstAtB.time - killedAt;
    // The next segment is at most a segment period away: it fails at the first and goes on.
    assert.ok(failoverMs < 6000, `the second gateway took over ${failoverMs} ms after the kill`);
    const refusedAt =
      log().find((l) => l.msg === 'upload failed, will retry' && l.gateway === urlA)?.time ?? 0;
    // The second gateway never had the run's init: it got it before the first segment.
    const initAtB = log().find((l) => l.msg === 'init file sent to this gateway too' && l.gateway === urlB);
    assert.ok(initAtB && initAtB.time <= firstAtB.time, 'the init went to the second gateway first');

    gatewayA = startGateway('a', portA);
    await waitHealthy(gatewayA, `${urlA}/healthz`);
    const upAgainAt = Date.now();
    const back = await waitFor(
      'uploads back at the first gateway',
      () => log().find((l) => l.msg.startsWith('gateway back') && l.to === urlA),
      (RETRY_PRIMARY_S + 10) * 1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${tail()}`);
    });
    await waitFor(
      'a segment uploaded to the first gateway again',
      () => uploadsTo(urlA, back.time)[0],
      10_000,
    );
    const returnMs = back.time - upAgainAt;
    console.log(
      `failover: first upload at the second gateway ${failoverMs} ms after the kill, ${firstAtB.time - refusedAt} ms after the first failed upload; ` +
        `back at the first ${returnMs} ms after it answered again (cool-down ${RETRY_PRIMARY_S} s)`,
    );
    assert.ok(returnMs <= (RETRY_PRIMARY_S + 6) * 1000, `back ${returnMs} ms after the first gateway was up`);
    assert.equal(
      log().filter((l) => l.msg.startsWith('gateway failover')).length,
      1,
      'one failover, however many uploads failed',
    );

    // Every segment finished so far is indexed, with the sha256 of the bytes in the spool.
    const recorded = await scanCameraSpool(join(dir, 'spool'), CAMERA);
    assert.ok(recorded.length >= 5, `${recorded.length} segments recorded`);
    const index = createPrismaClient(db.url, 1);
    onCleanup(() => index.$disconnect());
    const rows = new Map(
      (
        await waitFor(
          `all ${recorded.length} segments indexed`,
          async () => {
            const found = await index.segment.findMany({ where: { cameraId: CAMERA } });
            return recorded.every((s) => found.some((r) => r.name === s.name)) ? found : null;
          },
          20_000,
          250,
        )
      ).map((r) => [r.name, r]),
    );
    for (const s of recorded) {
      const sha256 = createHash('sha256')
        .update(await readFile(s.path))
        .digest('hex');
      assert.equal(rows.get(s.name)?.sha256, sha256, `${s.name}: the sha256 the agent sent`);
    }
    // The init every row names is kept by a gateway: in a buffer or on the NAS.
    const kept = new Set<string>();
    for (const where of ['gateway-a/buffer', 'gateway-b/buffer', 'nas'])
      for (const name of await readdir(join(dir, where, CAMERA)).catch(() => [])) kept.add(name);
    for (const init of new Set([...rows.values()].map((r) => r.initName))) assert.ok(kept.has(init), init);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^cctv_agent_gateway_failovers_total 1$/m);
    assert.ok(!lines.join('').includes(uploadToken), 'the upload token never reaches the log');
  });
});
