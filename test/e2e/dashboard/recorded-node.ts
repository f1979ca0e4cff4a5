/**
 * A node driven by the test through the real protocols, so events can be published when and
 * as the test needs them (an agent's own events come from its detection): it connects to the
 * master's broker with its enrolled credentials (status, hello, a heartbeat every second, last
 * will), and uploads H.264 segments of one camera to the gateway as an agent does, the past
 * minute first and then one every 2 s, so the camera has recordings and live HLS.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type EventMessage, SEGMENT_HEADERS, SNAPSHOT_HEADERS, snapshotPath, topics } from '@cctv/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { enrolTestNodeFully } from '../../support/enrol.ts';
import { onCleanup, repoRoot, tempDir, waitFor } from '../../support/index.ts';

const run = promisify(execFile);
const SEGMENT_MS = 2000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface RecordedNode {
  nodeId: string;
  cameraId: string;
  publishEvents(messages: EventMessage[]): Promise<void>;
  /** Sends a hello naming another node's cameras too, as a stolen node would. */
  claim(cameras: string[]): Promise<void>;
  /** Uploads a JPEG as the event snapshot `name` of the camera; returns its gateway path. */
  uploadSnapshot(name: string, jpeg: Buffer): Promise<string>;
}

export async function startRecordedNode(opts: {
  databaseUrl: string;
  mqttUrl: string;
  gatewayUrl: string;
  nodeId: string;
}): Promise<RecordedNode> {
  const { nodeId, gatewayUrl } = opts;
  const cameraId = `${nodeId}-cam`;
  const enrolment = await enrolTestNodeFully(opts.databaseUrl, nodeId);
  const dir = await tempDir('cctv-e2e-recnode-');

  // Ten 2-s segments of H.264 (plays in every browser), used round and round: three people
  // in a photo (face-api's sample1, MIT), so exports have faces to blur.
  const photo = join(repoRoot, 'node_modules/@vladmandic/face-api/demo/sample1.jpg');
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-loop', '1', '-framerate', '10', '-i', photo, '-t', '20'],
    ...['-vf', 'scale=640:-2,format=yuv420p'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '20', '-keyint_min', '20', '-sc_threshold', '0'],
    ...['-f', 'hls', '-hls_segment_type', 'fmp4', '-hls_time', '2', '-hls_list_size', '0'],
    ...[
      '-hls_fmp4_init_filename',
      'init.mp4',
      '-hls_segment_filename',
      join(dir, 'seg%03d.m4s'),
      join(dir, 'index.m3u8'),
    ],
  ]);
  const init = await readFile(join(dir, 'init.mp4'));
  const segments = await Promise.all(
    (await readdir(dir))
      .filter((f) => f.endsWith('.m4s'))
      .sort()
      .map((f) => readFile(join(dir, f))),
  );

  const now = () => new Date().toISOString();
  // The node says hello first: the gateway takes uploads only for a camera the master has
  // registered to it.
  const client: MqttClient = await mqtt.connectAsync(opts.mqttUrl, {
    clientId: `agent-${nodeId}`,
    username: nodeId,
    password: enrolment.secret,
    will: {
      topic: topics.status(nodeId),
      payload: Buffer.from(
        JSON.stringify({ state: 'offline', at: new Date().toISOString(), agentVersion: 'test' }),
      ),
      qos: 1,
      retain: true,
    },
  });
  await client.publishAsync(
    topics.status(nodeId),
    JSON.stringify({ state: 'online', at: now(), agentVersion: 'test' }),
    {
      qos: 1,
      retain: true,
    },
  );
  /** Its hello: its own camera, and `others` (a claim on cameras that are not its own). */
  const hello = (others: string[] = []) =>
    client.publishAsync(
      topics.hello(nodeId),
      JSON.stringify({
        protocolVersion: 1,
        nodeId,
        agentVersion: 'test',
        at: now(),
        host: { hostname: 'recorded-node', platform: 'linux', arch: 'x64', cpus: 2, memTotalBytes: 2 ** 31 },
        capabilities: { ffmpegVersion: 'test', hwEncoders: [] },
        cameras: [cameraId, ...others].map((id) => ({
          id,
          name: id === cameraId ? 'Recorded camera' : `Claimed ${id}`,
          codec: 'h264',
          width: 640,
          height: 426,
          fps: 10,
          simulated: true,
          recording: { mode: 'copy', encoder: 'copy', reason: 'uploaded by the test' },
        })),
      }),
      { qos: 1, retain: true },
    );
  await hello();
  const started = Date.now();
  const runStart = new Date(started - 60_000);
  const runId = runStart.toISOString().replace(/[-:.]/g, '');
  const initName = `init-${runId}.mp4`;
  const put = async (name: string, body: Buffer, headers: Record<string, string> = {}) => {
    const res = await putOnce(name, body, headers);
    if (res.status >= 300) throw new Error(`upload ${name}: ${res.status} ${await res.text()}`);
  };
  const putOnce = (name: string, body: Buffer, headers: Record<string, string>) =>
    fetch(`${gatewayUrl}/v1/segments/${cameraId}/${name}`, {
      method: 'PUT',
      body: new Uint8Array(body),
      headers: {
        'content-type': 'application/octet-stream',
        [SEGMENT_HEADERS.sha256]: sha256(body),
        [SEGMENT_HEADERS.node]: nodeId,
        authorization: `Bearer ${enrolment.uploadToken}`,
        ...headers,
      },
    });
  // Until the master has applied the hello, the camera is nobody's: 403, as for an agent that
  // retries.
  await waitFor(
    'the camera registered to the node',
    async () => (await putOnce(initName, init, {})).status < 300,
  );
  let counter = 0;
  const uploadNext = async () => {
    const start = new Date(runStart.getTime() + counter * SEGMENT_MS);
    const body = segments[counter % segments.length] as Buffer;
    await put(`${runId}-${String(counter).padStart(6, '0')}.m4s`, body, {
      [SEGMENT_HEADERS.start]: start.toISOString(),
      [SEGMENT_HEADERS.durationMs]: String(SEGMENT_MS),
      [SEGMENT_HEADERS.init]: initName,
      [SEGMENT_HEADERS.codec]: 'avc1',
    });
    counter++;
  };
  // The past minute, then a segment each time one is "recorded".
  while (runStart.getTime() + (counter + 1) * SEGMENT_MS <= Date.now()) await uploadNext();
  let uploading = Promise.resolve();
  const uploads = setInterval(() => {
    if (runStart.getTime() + (counter + 1) * SEGMENT_MS <= Date.now())
      uploading = uploading.then(uploadNext, uploadNext);
  }, 250);

  let seq = 0;
  const heartbeat = () =>
    client.publishAsync(
      topics.heartbeat(nodeId),
      JSON.stringify({
        seq: seq++,
        at: now(),
        uptimeS: (Date.now() - started) / 1000,
        cpu: { percent: 3.5, load1: 0.2 },
        mem: { rssBytes: 80e6, totalBytes: 2 ** 31, freeBytes: 2 ** 30 },
        tempC: 48.5,
        disk: { spoolFreeBytes: 20e9, spoolUsedBytes: 1e8, spoolTotalBytes: 32e9 },
        cameras: [
          {
            id: cameraId,
            state: 'recording',
            fps: 10,
            bitrateKbps: 200,
            lastSegmentAt: now(),
            segmentsRecorded: counter,
            backlogFiles: 0,
            backlogBytes: 0,
          },
        ],
      }),
      { qos: 0 },
    );
  await heartbeat();
  const beats = setInterval(() => void heartbeat().catch(() => {}), 1000);
  onCleanup(async () => {
    clearInterval(beats);
    clearInterval(uploads);
    await uploading.catch(() => {});
    await client.endAsync(true);
  });
  return {
    nodeId,
    cameraId,
    async claim(cameras) {
      await hello(cameras);
    },
    async publishEvents(messages) {
      for (const m of messages)
        await client.publishAsync(topics.events(nodeId), JSON.stringify(m), { qos: 1 });
    },
    async uploadSnapshot(name, jpeg) {
      const path = snapshotPath(cameraId, name);
      const res = await fetch(`${gatewayUrl}${path}`, {
        method: 'PUT',
        body: new Uint8Array(jpeg),
        headers: {
          'content-type': 'image/jpeg',
          [SNAPSHOT_HEADERS.sha256]: sha256(jpeg),
          [SNAPSHOT_HEADERS.node]: nodeId,
          authorization: `Bearer ${enrolment.uploadToken}`,
        },
      });
      if (res.status >= 300) throw new Error(`snapshot ${name}: ${res.status} ${await res.text()}`);
      return path;
    },
  };
}
