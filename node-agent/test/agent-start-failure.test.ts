/**
 * `startAgent` when a part fails midway: the MQTT link cannot open its outbox (the folder's
 * name is taken by a file) after the cameras, the live-view server and /metrics have started.
 * The error comes up, and nothing is left behind: no ffmpeg, no listener, no MQTT connection.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { freePort, tempDir, waitFor } from '../../test/support/index.ts';
import { startAgent } from '../src/agent.ts';
import { loadConfigFile } from '../src/config.ts';
import { reapStaleFfmpeg } from '../src/recorder/stale-ffmpeg.ts';
import { agentYaml } from './agent-yaml.ts';
import { startBroker } from './broker.ts';
import { startGatewayStandIn } from './gateway-stand-in.ts';
import { capturingLogger, listening } from './in-process.ts';

const NODE = 'failing-node';

/** Ids of the processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(entry));
  }
  return pids;
}

describe('startAgent failing midway', () => {
  it('stops the parts it started, in reverse, and throws', async () => {
    const broker = await startBroker();
    const gateway = await startGatewayStandIn();
    const dir = await tempDir('agent-failing-');
    const metricsPort = await freePort();
    const jsmpegPort = await freePort();
    const configPath = join(dir, 'agent.yaml');
    await writeFile(
      configPath,
      agentYaml({ nodeId: NODE, mqttUrl: broker.url, gatewayUrl: gateway.url, dir }, [
        `httpPort: ${metricsPort}`,
        `live: { jsmpeg: { port: ${jsmpegPort}, host: "127.0.0.1" } }`,
        'simulatedCamera: { width: 160, height: 90, fps: 5, detect: { enabled: false } }',
      ]),
    );
    await mkdir(join(dir, 'state'), { recursive: true });
    await writeFile(join(dir, 'state', 'outbox'), 'a file where the outbox folder should be\n');
    const spoolCamera = join(dir, 'spool', `${NODE}-sim`);
    after(() => reapStaleFfmpeg(spoolCamera, pino({ level: 'silent' })));
    const { logger, lines } = capturingLogger();

    await assert.rejects(startAgent(loadConfigFile(configPath), { logger }), /outbox/);
    const output = lines.join('');
    assert.match(output, /"msg":"metrics on \/metrics"/, 'the failure came after /metrics started');
    assert.match(output, /agent not started: stopping the parts already running/);
    assert.equal(await listening(metricsPort), false, '/metrics closed');
    assert.equal(await listening(jsmpegPort), false, 'live view closed');
    assert.deepEqual(await processesMentioning(spoolCamera), [], 'no ffmpeg left recording');
    await waitFor('the MQTT connection closed', () => broker.client(`agent-${NODE}`)?.closed !== false);
  });
});
